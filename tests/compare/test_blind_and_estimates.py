"""Compare beyond arenas: a cost estimate per target before running, and blind voting with shuffled positions."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from lib.providers import registry
from lib.store import open_store

ROOT = Path(__file__).resolve().parents[2]


def open_compare() -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90)
    at.run()
    at.switch_page("pages/compare.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_each_target_and_the_whole_run_show_an_estimate_before_anything_is_sent(studio_env):
    at = open_compare()
    at.text_area(key="cmp_prompts").set_value("a red fox\nan owl").run()
    targets = at.session_state["cmp_targets"]
    each = [registry.get(t.provider).estimate_usd(t.model, t.settings) for t in targets]
    assert all(e is not None for e in each)
    captions = [c.value for c in at.caption]
    for value in each:  # Karlo's pictures cost nothing (its free quota): said so, not "$0.0000"
        assert (f"about ${value:,.4f} a prompt" if value else "no charge for a picture") in captions
    assert 0 in each and not any("$0.0000" in c for c in captions)
    total = f"about ${sum(each) * 2:,.4f} for 2 prompts × {len(targets)} targets"
    assert any(total in c for c in captions), captions
    assert open_store()[1].rows() == []  # nothing was sent to make the estimate


def test_blind_mode_hides_labels_and_shuffles_until_the_vote_then_records_the_real_target(studio_env):
    at = open_compare()
    labels = [t.label for t in at.session_state["cmp_targets"]]
    at.toggle(key="cmp_blind").set_value(True)
    at.text_area(key="cmp_prompts").set_value("a red fox\nan owl\na kite")
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert not at.exception, at.exception
    run = at.session_state["cmp_shown"]["run"]
    texts = [m.value for m in at.markdown]
    results = texts[next(i for i, t in enumerate(texts) if t.startswith("#### ")):]  # below the target list
    shown_text = " ".join(results) + " ".join(c.value for c in at.caption)
    for label in labels:
        assert label not in shown_text and label.split(" · ")[0] not in " ".join(results)  # no engine named
    assert "Picture A" in shown_text
    votes = [w for w in at.segmented_control if w.key.startswith("cmp_vote_")]
    assert len(votes) == 3 and votes[0].options[:len(labels)] == [f"Picture {c}" for c in "ABCDE"[:len(labels)]]

    # Positions are shuffled: the first picture of some prompt is not the first target's.
    first_columns = []
    for pi in range(3):
        import random

        order = list(range(len(labels)))
        random.Random(f"{run.group_id}:{pi}").shuffle(order)
        first_columns.append(order[0])
    assert any(order != 0 for order in first_columns) or len(labels) == 1

    at.segmented_control(key=f"cmp_vote_{run.group_id}_0").set_value("Picture A").run()
    assert not at.exception, at.exception
    [vote] = open_store()[1].votes_frame().to_dict("records")
    assert vote["winner"] == labels[first_columns[0]] and vote["targets"] == labels
    revealed = [c.value for c in at.caption if c.value.startswith("Revealed:")]
    assert revealed and f"Picture A was {labels[first_columns[0]]}" in revealed[0].replace("\\", "")  # md_literal escapes [ and ]
