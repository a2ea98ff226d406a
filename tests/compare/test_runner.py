"""The compare runner with stub engines: isolation, concurrency, delivery order, cancel, translation, votes, export."""
from __future__ import annotations

import csv
import io
import threading
import time
import zipfile
from types import SimpleNamespace

import pandas as pd
import pytest
from PIL import Image

from lib import compare
from lib.compare import BOTH_BAD, TIE, Target, export_zip, leaderboard, parse_prompts, run_compare
from lib.config import ProviderConfig
from lib.errors import Cancelled, ContentRejected, InvalidInput, ProviderDown
from lib.types import GeneratedImage, ImageResult, Usage

CONFIGS = {
    "openai": ProviderConfig("openai", "live", "http://127.0.0.1:9/v1", "sk-stub-secret-key-123456", "environment"),
    "karlo": ProviderConfig("karlo", "live", "http://127.0.0.1:9", "kakao-stub-secret-key-1234", "environment"),
}


def png(color=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, "PNG")
    return out.getvalue()


def image_result(model: str, provider: str = "openai") -> ImageResult:
    return ImageResult(provider=provider, model=model, endpoint="/stub/" + provider,
                       images=[GeneratedImage(png(), width=8, height=8)], params={"model": model, "size": "8x8"},
                       usage=Usage(10, 20))


class Ledger:
    """Stands in for lib.store.record_call: keeps every row it is given, from any thread."""

    def __init__(self):
        self.rows = []
        self.lock = threading.Lock()

    def __call__(self, **fields):
        status = "ok" if fields["error"] is None else fields["error"].status_label
        row = SimpleNamespace(id=f"row{len(self.rows)}", status=status, cost_usd=0.01, cost_source="computed", **fields)
        with self.lock:
            self.rows.append(row)
        return row


@pytest.fixture
def release():
    """Set at teardown so stub threads blocked on it end with the test."""
    event = threading.Event()
    yield event
    event.set()


def stub_engine(behaviours):
    """An 'openai' call whose behaviour is picked by the target's model name."""
    seen = []

    def call(cfg, prompt, settings):
        seen.append((cfg, prompt, dict(settings)))
        return behaviours[settings["model"]](cfg, prompt, settings)

    call.seen = seen
    return call


def test_a_failing_and_a_hung_target_stay_in_their_own_cells(release):
    hung_finished = threading.Event()

    def hang(cfg, prompt, settings):
        release.wait(20)
        hung_finished.set()
        return image_result("hang")

    def boom(cfg, prompt, settings):
        raise ContentRejected("Rejected by the safety system. Reword the prompt.", provider="openai")

    engine = stub_engine({"ok": lambda c, p, s: image_result("ok"), "boom": boom, "hang": hang})
    ledger = Ledger()
    targets = [Target("fine", "openai", "ok"), Target("fails", "openai", "boom"), Target("hangs", "openai", "hang")]
    run = run_compare(CONFIGS, ["a red fox"], targets, timeout_s=0.5, calls={"openai": engine}, record=ledger)

    assert not hung_finished.is_set(), "the run waited for the hung target instead of timing it out"
    fine, fails, hangs = (run.cell(0, i) for i in range(3))
    assert fine.status == "ok" and fine.result.images and fine.error is None
    assert fails.status == "rejected" and isinstance(fails.error, ContentRejected)
    assert hangs.status == "error" and isinstance(hangs.error, ProviderDown)
    assert "timed out" in hangs.error.message and "hangs" in hangs.error.message and "0.5 s" in hangs.error.message
    # One ledger row per cell, all in the run's group, each with its own outcome.
    assert sorted(r.status for r in ledger.rows) == ["error", "ok", "rejected"]
    assert {r.group_id for r in ledger.rows} == {run.group_id}
    assert {r.page for r in ledger.rows} == {"compare"} and {r.action for r in ledger.rows} == {"generate"}
    # The timeout passed to the engine is the run's timeout, so real providers stop on their own too.
    assert {s["timeout"] for _, _, s in engine.seen} == {0.5}


def test_worker_threads_are_kept_between_runs_and_a_hung_call_holds_only_its_own(release):
    def workers():
        return sum(t.name == "compare-worker" for t in threading.enumerate())

    def hang(cfg, prompt, settings):
        release.wait(20)
        return image_result("hang")

    engine = stub_engine({"ok": lambda c, p, s: image_result("ok"), "hang": hang})
    three = [Target(f"fine {i}", "openai", "ok") for i in range(3)]
    def idle(at_least: int) -> None:  # a run is back once its cells are; its threads go idle just after
        deadline = time.monotonic() + 5
        while compare._workers._idle < at_least and time.monotonic() < deadline:
            time.sleep(0.01)

    run_compare(CONFIGS, ["a red fox"], three, timeout_s=5, calls={"openai": engine}, record=Ledger())
    idle(3)
    kept = workers()
    assert kept >= 3
    run = run_compare(CONFIGS, ["a blue fox"], three, timeout_s=5, calls={"openai": engine}, record=Ledger())
    assert {c.status for c in run.cells} == {"ok"} and workers() == kept  # the same threads took the next run

    hung = run_compare(CONFIGS, ["a red fox"], [Target("hangs", "openai", "hang")], timeout_s=0.3,
                       calls={"openai": engine}, record=Ledger())
    assert hung.cell(0, 0).status == "error"  # timed out; its thread is still in the call
    run = run_compare(CONFIGS, ["a red fox"], three, timeout_s=5, calls={"openai": engine}, record=Ledger())
    assert {c.status for c in run.cells} == {"ok"}  # the others went on without it
    assert workers() <= kept + 1


def test_results_arrive_in_completion_order_on_the_calling_thread(release):
    go = {"first": threading.Event(), "second": threading.Event()}

    def waits_for(name):
        def call(cfg, prompt, settings):
            assert go[name].wait(10), "never released"
            return image_result(name)
        return call

    engine = stub_engine({"first": waits_for("first"), "second": waits_for("second"),
                          "quick": lambda c, p, s: image_result("quick")})
    order, threads = [], set()

    def on_result(cell):
        order.append(cell.target.model)
        threads.add(threading.get_ident())
        # Each delivery lets the next engine answer, so the order can only come from completions.
        if cell.target.model == "quick":
            go["second"].set()
        elif cell.target.model == "second":
            go["first"].set()

    targets = [Target("A", "openai", "first"), Target("B", "openai", "second"), Target("C", "openai", "quick")]
    run = run_compare(CONFIGS, ["p"], targets, timeout_s=10, on_result=on_result, calls={"openai": engine},
                      record=Ledger())
    assert order == ["quick", "second", "first"]
    assert threads == {threading.get_ident()}
    assert [c.status for c in run.cells] == ["ok", "ok", "ok"]


def test_all_cells_of_a_row_are_in_flight_together(release):
    """Concurrency itself: each engine waits until every other one has started (a sequential runner never gets there)."""
    barrier = threading.Barrier(4, timeout=10)

    def meet(cfg, prompt, settings):
        barrier.wait()
        return image_result("m")

    engine = stub_engine({"m": meet})
    targets = [Target(f"t{i}", "openai", "m") for i in range(4)]
    run = run_compare(CONFIGS, ["p"], targets, timeout_s=15, calls={"openai": engine}, record=Ledger())
    assert [c.status for c in run.cells] == ["ok"] * 4


def test_cancel_keeps_what_finished_and_records_the_rest_as_cancelled(release):
    cancel = threading.Event()

    def slow(cfg, prompt, settings):
        release.wait(20)
        return image_result("slow")

    engine = stub_engine({"fast": lambda c, p, s: image_result("fast"), "slow": slow})
    ledger = Ledger()
    delivered = []

    def on_result(cell):
        delivered.append((cell.prompt, cell.target.label, cell.status))
        if cell.status == "ok":
            cancel.set()  # the person presses Cancel as soon as something came back

    # Two prompts, one worker: the second prompt's cells are never sent.
    run = run_compare(CONFIGS, ["one", "two"], [Target("F", "openai", "fast"), Target("S", "openai", "slow")],
                      timeout_s=30, on_result=on_result, cancel_event=cancel, calls={"openai": engine},
                      record=ledger, max_workers=1)
    assert run.cancelled
    assert run.cell(0, 0).status == "ok" and run.cell(0, 0).result is not None
    for key in [(0, 1), (1, 0), (1, 1)]:
        cell = run.cell(*key)
        assert cell.status == "cancelled" and isinstance(cell.error, Cancelled) and cell.result is None
    assert "before this prompt was sent" in run.cell(1, 0).error.message
    assert sorted(r.status for r in ledger.rows) == ["cancelled", "cancelled", "cancelled", "ok"]
    assert len(delivered) == 4  # every cell reaches the page, cancelled ones too
    assert {prompt for _, prompt, _ in engine.seen} == {"one"}  # nothing of prompt two went out


def test_an_exception_from_the_page_callback_keeps_finished_cells(release):
    """Streamlit stops a running script by raising inside it; the runner must close its cells and let it go."""
    def slow(cfg, prompt, settings):
        release.wait(20)
        return image_result("slow")

    engine = stub_engine({"fast": lambda c, p, s: image_result("fast"), "slow": slow})
    ledger = Ledger()

    class Rerun(Exception):
        pass

    def on_result(cell):
        raise Rerun()

    with pytest.raises(Rerun):
        run_compare(CONFIGS, ["p"], [Target("F", "openai", "fast"), Target("S", "openai", "slow")], timeout_s=30,
                    on_result=on_result, calls={"openai": engine}, record=ledger)
    assert sorted(r.status for r in ledger.rows) == ["cancelled", "ok"]


def test_a_broken_engine_or_missing_setup_is_a_cell_error_not_a_crash():
    def buggy(cfg, prompt, settings):
        raise KeyError("sk-stub-secret-key-123456")  # even a bug must not leak the key into the message

    engine = stub_engine({"ok": lambda c, p, s: image_result("ok"), "bug": buggy})
    configs = {**CONFIGS, "karlo": ProviderConfig("karlo", "misconfigured", "http://x", None, None,
                                                  "No karlo key: set KAKAO_REST_API_KEY.")}
    ledger = Ledger()
    run = run_compare(configs, ["p"], [Target("ok", "openai", "ok"), Target("bug", "openai", "bug"),
                                       Target("karlo", "karlo", "v2.1")],
                      timeout_s=5, calls={"openai": engine}, record=ledger)
    ok, bug, karlo = run.cells
    assert ok.status == "ok"
    assert isinstance(bug.error, ProviderDown) and "failed unexpectedly" in bug.error.message
    assert "sk-stub-secret" not in bug.error.message
    assert karlo.status == "error" and "KAKAO_REST_API_KEY" in karlo.error.message
    assert len(ledger.rows) == 3


def test_each_target_carries_its_own_headers_and_settings():
    seen = {}

    def call(cfg, prompt, settings):
        seen[settings["model"] + settings.get("quality", "")] = (dict(cfg.extra_headers), settings)
        return image_result(settings["model"])

    targets = [Target("low", "openai", "gpt-image-2", {"quality": "low", "size": "1024x1024"}),
               Target("high, hung", "openai", "gpt-image-2", {"quality": "high"}, {"X-Emulator-Fault": "hang"})]
    run_compare(CONFIGS, ["p"], targets, timeout_s=5, calls={"openai": call}, record=Ledger())
    assert seen["gpt-image-2low"][0] == {}
    assert seen["gpt-image-2high"][0] == {"X-Emulator-Fault": "hang"}
    assert seen["gpt-image-2low"][1] == {"model": "gpt-image-2", "quality": "low", "size": "1024x1024", "timeout": 5}


def test_karlo_gets_one_english_translation_per_prompt_and_records_what_was_sent(monkeypatch):
    translations = []

    def translate_to_english(cfg, text, **kwargs):
        translations.append(text)
        return "a cat wearing a hat", SimpleNamespace(model="gpt-5.4-mini", text="a cat wearing a hat")

    monkeypatch.setattr(compare, "translate_to_english", translate_to_english)

    sent = []

    def call(cfg, prompt, settings):
        sent.append((cfg.provider, prompt))
        return image_result(settings["model"], cfg.provider)

    ledger = Ledger()
    targets = [Target("k1", "karlo", "v2.1"), Target("k2", "karlo", "v2.1", {"width": 640}),
               Target("o", "openai", "gpt-image-2")]
    run = run_compare(CONFIGS, ["모자를 쓴 고양이"], targets, timeout_s=5,
                      calls={"openai": call, "karlo": call}, record=ledger, person="header:alice")
    assert translations == ["모자를 쓴 고양이"]  # once, though two Karlo targets needed it
    assert sorted(sent) == [("karlo", "a cat wearing a hat"), ("karlo", "a cat wearing a hat"),
                            ("openai", "모자를 쓴 고양이")]
    assert run.cell(0, 0).prompt_sent == "a cat wearing a hat" and run.cell(0, 2).prompt_sent == "모자를 쓴 고양이"
    by_action = {}
    for row in ledger.rows:
        by_action.setdefault(row.action, []).append(row)
    assert [r.prompt for r in by_action["t2i"]] == ["a cat wearing a hat"] * 2
    assert len(by_action["translate"]) == 1 and by_action["translate"][0].group_id == run.group_id
    assert {row.person for row in ledger.rows} == {"header:alice"}  # the translation is the person's call too


def test_nothing_to_run_is_refused_with_a_message():
    with pytest.raises(InvalidInput, match="prompt"):
        run_compare(CONFIGS, [], [Target("a", "openai", "m")], timeout_s=1)
    with pytest.raises(InvalidInput, match="target"):
        run_compare(CONFIGS, ["p"], [], timeout_s=1)


# --- batch input ---

def test_prompts_pasted_one_per_line_skip_blank_lines():
    assert parse_prompts("a red fox\n\n  a blue whale  \r\n\n") == ["a red fox", "a blue whale"]


def test_prompts_from_a_csv_prompt_column():
    data = '\ufeffid,Prompt,notes\n1,"a fox, at dawn",x\n2,,empty\n3,한옥 마을,y\n'.encode("utf-8")
    assert parse_prompts(data) == ["a fox, at dawn", "한옥 마을"]


def test_a_csv_without_a_prompt_column_says_which_columns_it_has():
    with pytest.raises(InvalidInput) as info:
        parse_prompts(b"text,style\nfox,oil\n")
    assert '"prompt"' in info.value.message and "text, style" in info.value.message


def test_too_many_prompts_are_refused():
    with pytest.raises(InvalidInput, match="at most"):
        parse_prompts("\n".join(f"p{i}" for i in range(compare.MAX_PROMPTS + 1)))


# --- votes ---

def votes(*rows):
    return pd.DataFrame(
        [{"group_id": g, "prompt": p, "winner": w, "targets": t, "created_at": pd.Timestamp("2026-11-28") + pd.Timedelta(minutes=i)}
         for i, (g, p, w, t) in enumerate(rows)]
    )


def test_leaderboard_win_rate_counts_ties_as_half_and_both_bad_as_no_win():
    board = leaderboard(votes(
        ("g1", "fox", "A", ["A", "B"]),
        ("g1", "owl", "A", ["A", "B"]),
        ("g2", "fox", TIE, ["A", "B"]),
        ("g2", "owl", BOTH_BAD, '["A", "B"]'),  # targets as the ledger stores them (JSON text)
        ("g3", "fox", "C", ["B", "C"]),
    )).set_index("target")
    assert board.loc["A", "votes"] == 4 and board.loc["A", "win_rate"] == pytest.approx(2.5 / 4)
    assert board.loc["B", "votes"] == 5 and board.loc["B", "win_rate"] == pytest.approx(0.5 / 5)
    assert board.loc["C", "votes"] == 1 and board.loc["C", "win_rate"] == 1.0
    assert board.loc["B", "both_bad"] == 1 and board.loc["B", "losses"] == 3
    assert list(board.index) == ["C", "A", "B"]


def test_a_changed_vote_replaces_the_earlier_one():
    board = leaderboard(votes(("g1", "fox", "A", ["A", "B"]), ("g1", "fox", "B", ["A", "B"]))).set_index("target")
    assert board.loc["B", "wins"] == 1 and board.loc["A", "wins"] == 0 and board.loc["A", "votes"] == 1


def test_no_votes_gives_an_empty_board():
    assert leaderboard(pd.DataFrame()).empty


# --- export ---

def test_export_zip_has_every_image_and_a_csv_of_settings_and_outcomes(release):
    def boom(cfg, prompt, settings):
        raise ProviderDown("OpenAI had a server error (500).", provider="openai", http_status=500)

    engine = stub_engine({"ok": lambda c, p, s: image_result("ok"), "boom": boom})
    run = run_compare(CONFIGS, ["fox", "owl"], [Target("Good one", "openai", "ok", {"quality": "low"}),
                                                Target("Bad one", "openai", "boom")],
                      timeout_s=5, calls={"openai": engine}, record=Ledger())
    zf = zipfile.ZipFile(io.BytesIO(export_zip(run)))
    images = sorted(n for n in zf.namelist() if n.startswith("images/"))
    assert images == ["images/p01_t1_good-one_1.png", "images/p02_t1_good-one_1.png"]
    assert Image.open(io.BytesIO(zf.read(images[0]))).size == (8, 8)
    rows = list(csv.DictReader(io.StringIO(zf.read("comparison.csv").decode())))
    assert [(r["prompt"], r["target"], r["status"]) for r in rows] == [
        ("fox", "Good one", "ok"), ("fox", "Bad one", "error"), ("owl", "Good one", "ok"), ("owl", "Bad one", "error")]
    assert rows[0]["input_tokens"] == "10" and rows[0]["cost_usd"] == "0.01" and rows[1]["error"].startswith("OpenAI had")
    assert rows[0]["images"] == "p01_t1_good-one_1.png"
    everything = b"".join(zf.read(n) for n in zf.namelist())
    assert b"stub-secret" not in everything


def test_a_failed_translation_fails_only_the_karlo_cells_and_is_tried_once(monkeypatch):
    attempts = []

    def translate_to_english(cfg, text, **kwargs):
        attempts.append(text)
        raise ProviderDown("OpenAI had a server error (500).", provider="openai", http_status=500)

    monkeypatch.setattr(compare, "translate_to_english", translate_to_english)
    call = lambda cfg, prompt, settings: image_result(settings["model"], cfg.provider)  # noqa: E731
    ledger = Ledger()
    run = run_compare(CONFIGS, ["비 오는 거리"], [Target("k1", "karlo", "v2.1"), Target("k2", "karlo", "v2.0"),
                                              Target("o", "openai", "gpt-image-2")],
                      timeout_s=5, calls={"openai": call, "karlo": call}, record=ledger)
    k1, k2, o = run.cells
    assert o.status == "ok"
    for cell in (k1, k2):
        assert cell.status == "error" and "translating the prompt failed" in cell.error.message
    assert attempts == ["비 오는 거리"]
    assert sorted(r.action for r in ledger.rows) == ["generate", "t2i", "t2i", "translate"]
