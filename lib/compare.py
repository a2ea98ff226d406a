"""Run one or more prompts against several image engines at once, each cell isolated, and judge them.

A *target* is an engine with its settings (the same model twice with different
settings is fine).  ``run_compare`` sends every (prompt x target) *cell* at the
same time on a pool of worker threads (``plan`` lays the cells out, ``execute`` runs them).
Each cell succeeds, fails or times out on its own: a hung target becomes a
"timed out" error in its own cell while the others finish, and results reach
the caller in the order they complete, not after the slowest.  Every cell
leaves exactly one ledger row in the run's group (plus one "translate" row per
prompt translated to English for the engines that read English only, e.g. Karlo).

Votes and the leaderboard: see ``leaderboard``.  Export: ``export_zip``.
"""
from __future__ import annotations

import csv
import io
import json
import queue
import re
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import pandas as pd

from lib.config import ProviderConfig
from lib.errors import AuthError, Cancelled, InvalidInput, ProviderDown, StudioError, redact
from lib.pipeline import begin_translation, chat_config, looks_non_english, translate_to_english
from lib.providers import openai_chat
from lib.spreadsheet import formula_safe
from lib.types import ImageResult

MAX_PROMPTS = 100  # a batch is for judging engines, not for bulk production
NO_PROMPTS = 'Write a prompt (or upload a CSV with a "prompt" column) first.'
DEFAULT_MAX_WORKERS = 8  # enough to run a typical row of targets at once without tripping rate limits

FAULT_HEADER = "X-Emulator-Fault"  # demo/test only: a target can ask the emulator to misbehave for it alone
TIE, BOTH_BAD = "tie", "both bad"
BUDGET_REFUSALS = ("team_budget", "person_budget")  # lib.store's BudgetExceeded codes: refused before sending

# A target's call: (provider config, prompt as sent, settings incl. "model" and "timeout") -> ImageResult.
# By default every target goes through its engine (lib.send.call_engine); tests and the pipeline may override one.
TargetCall = Callable[[ProviderConfig, str, dict[str, Any]], ImageResult]


@dataclass
class Target:
    """One engine with its settings, as a person set it up on the Compare page."""

    label: str
    provider: str  # an engine id (lib.providers.registry)
    model: str
    settings: dict[str, Any] = field(default_factory=dict)  # the engine's settings (Engine.settings)
    extra_headers: dict[str, str] = field(default_factory=dict)  # sent with this target's calls only (fault injection)


@dataclass
class Cell:
    """One prompt sent to one target, and what came of it."""

    prompt_index: int
    target_index: int
    prompt: str
    target: Target
    prompt_sent: str | None = None  # what the engine got (Karlo: the English translation)
    status: str = "pending"  # pending | running | ok | error | rejected | cancelled
    result: ImageResult | None = None
    error: StudioError | None = None
    row: Any = None  # the LedgerRow written for this cell
    latency_ms: float | None = None
    started_at: float | None = None  # time.monotonic() when the call went out
    ledger_problem: str | None = None  # the row could not be written (shown, never fatal)
    call_id: str | None = None  # its pending ledger row, written before the call went out

    @property
    def key(self) -> tuple[int, int]:
        return (self.prompt_index, self.target_index)


@dataclass
class CompareRun:
    """A whole comparison: its group id (shared by every ledger row), prompts, targets and cells."""

    group_id: str
    prompts: list[str]
    targets: list[Target]
    cells: list[Cell]
    cancelled: bool = False

    def cell(self, prompt_index: int, target_index: int) -> Cell:
        return self.cells[prompt_index * len(self.targets) + target_index]

    def forget_stored_images(self) -> None:
        """Drop the picture bytes of every cell whose ledger row names them in the store (a page keeps runs in memory)."""
        for cell in self.cells:
            if cell.result is not None and getattr(cell.row, "output_refs", None):
                cell.result.images = []


# --- the engine calls ------------------------------------------------------------------------------

def engine_call(provider: str, page: str = "compare") -> TargetCall:
    """The default call for a target: its engine's generate, without retries (Compare gives up on its own
    clock, and a retry sent after that would be billed for a picture nobody sees)."""
    from lib import send

    def call(cfg: ProviderConfig, prompt: str, settings: dict[str, Any]) -> ImageResult:
        settings = dict(settings)
        model, timeout = settings.pop("model"), settings.pop("timeout", None)
        request = send.Request(provider, "generate", model, prompt, settings, page=page)
        return send.call_engine(cfg, request, timeout=timeout, retries=False)

    return call


def needs_english(target: Target) -> bool:
    from lib.providers import registry

    engine = registry.get(target.provider)
    return engine is not None and engine.capabilities(target.model).english_only


# --- input ---------------------------------------------------------------------------------------

def parse_prompts(text_or_csv: str | bytes) -> list[str]:
    """Prompts from text pasted one per line, or from CSV bytes with a ``prompt`` column (blank ones skipped)."""
    if isinstance(text_or_csv, bytes):
        try:
            text = text_or_csv.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("The CSV is not UTF-8 text. Save it as 'CSV UTF-8' and upload it again.", param="prompts")
        reader = csv.DictReader(io.StringIO(text))
        column = next((c for c in (reader.fieldnames or []) if c and c.strip().lower() == "prompt"), None)
        if column is None:
            found = ", ".join(c for c in (reader.fieldnames or []) if c) or "none"
            raise InvalidInput(f'The CSV needs a column named "prompt" (columns found: {found}).', param="prompts")
        prompts = [(row.get(column) or "").strip() for row in reader]
    else:
        prompts = [line.strip() for line in text_or_csv.splitlines()]
    prompts = [p for p in prompts if p]
    if len(prompts) > MAX_PROMPTS:
        raise InvalidInput(
            f"That is {len(prompts)} prompts; a comparison takes at most {MAX_PROMPTS}. Split the batch.", param="prompts"
        )
    return prompts


# --- running -------------------------------------------------------------------------------------

def new_group_id() -> str:
    return "cmp_" + uuid.uuid4().hex[:20]


def _record_with_store(**fields) -> Any:
    from lib.store import record_call

    return record_call(**fields)


def default_chat_model() -> str:
    """The catalog's default chat model (small and cheap is all a translation needs)."""
    try:
        from lib import catalog

        return next(m.id for m in catalog.load().chats if not m.is_retired())
    except Exception:  # no catalog, or no chat models offered: the long-lived small default
        return "gpt-5.4-mini"


class _Translations:
    """English versions of prompts for English-only engines: one translation per prompt however many targets need it,
    each on the ledger."""

    def __init__(self, configs: dict[str, ProviderConfig], record: Callable[..., Any], group_id: str, page: str,
                 person: str | None = None):
        self._cfg = chat_config(configs)
        self._record, self._group_id, self._page, self._person = record, group_id, page, person
        self._lock = threading.Lock()
        self._per_prompt: dict[str, threading.Lock] = {}
        self._english: dict[str, str | StudioError] = {}

    def english(self, prompt: str, timeout_s: float) -> str:
        """The prompt in English (as is when it already is); a failed translation fails every English-only cell of it."""
        if not looks_non_english(prompt):
            return prompt
        with self._lock:
            lock = self._per_prompt.setdefault(prompt, threading.Lock())
        with lock:
            if prompt not in self._english:
                try:
                    self._english[prompt] = self._translate(prompt, timeout_s)
                except StudioError as exc:
                    self._english[prompt] = exc
        found = self._english[prompt]
        if isinstance(found, StudioError):
            raise found
        return found

    def _translate(self, prompt: str, timeout_s: float) -> str:
        cfg = self._cfg
        if cfg is None or not cfg.usable:
            raise AuthError(
                "This engine reads English only, and translating the prompt needs OpenAI, which is not set up. "
                "Write the prompt in English, or add an OpenAI key.", provider="openai",
            )
        started = time.monotonic()
        turn, error, call_id = None, None, None
        model, params = default_chat_model(), {"purpose": "translate the prompt to English for an English-only engine"}
        try:
            if self._record is _record_with_store:  # pending and budget-checked first, like every model call
                call_id = begin_translation(cfg, prompt, model=model, page=self._page, group_id=self._group_id,
                                            person=self._person, params=params)
            english, turn = translate_to_english(cfg, prompt, model=model, timeout=timeout_s)
        except StudioError as exc:
            error = exc
        try:
            self._record(
                page=self._page, action="translate", cfg=cfg, result=turn, error=error, prompt=prompt,
                model=getattr(turn, "model", None) or model, params=params, endpoint=openai_chat.ENDPOINT,
                group_id=self._group_id, output_text=getattr(turn, "text", None),
                latency_ms=(time.monotonic() - started) * 1000, **({"person": self._person} if self._person else {}),
                **({"call_id": call_id} if call_id else {}),
            )
        except Exception:
            pass  # the engine cell's own row still records what was sent
        if error is not None:
            what = "was not sent" if error.code in BUDGET_REFUSALS else "failed"
            raise type(error)(
                f"This engine reads English only, and translating the prompt {what}: {error.message}",
                provider=error.provider, http_status=error.http_status, code=error.code, request_id=error.request_id,
            )
        return english.strip() or prompt


def plan(prompts: list[str], targets: list[Target], group_id: str | None = None) -> CompareRun:
    """A comparison not yet sent: one pending cell per (prompt x target), row by row."""
    if not prompts:
        raise InvalidInput(NO_PROMPTS, param="prompts")
    if not targets:
        raise InvalidInput("Add at least one target to compare.", param="targets")
    return CompareRun(
        group_id=group_id or new_group_id(),
        prompts=list(prompts),
        targets=list(targets),
        cells=[Cell(pi, ti, p, t) for pi, p in enumerate(prompts) for ti, t in enumerate(targets)],
    )


def run_compare(
    configs: dict[str, ProviderConfig],
    prompts: list[str],
    targets: list[Target],
    *,
    timeout_s: float,
    group_id: str | None = None,
    **options,
) -> CompareRun:
    """Send every prompt to every target concurrently; see ``execute`` for the options."""
    return execute(configs, plan(prompts, targets, group_id), timeout_s=timeout_s, **options)


def execute(
    configs: dict[str, ProviderConfig],
    run: CompareRun,
    *,
    timeout_s: float,
    on_result: Callable[[Cell], None] | None = None,
    cancel_event: threading.Event | None = None,
    on_wait: Callable[[CompareRun], None] | None = None,
    calls: dict[str, TargetCall] | None = None,
    record: Callable[..., Any] = _record_with_store,
    max_workers: int = DEFAULT_MAX_WORKERS,
    page: str = "compare",
    person: str | None = None,
) -> CompareRun:
    """Run a planned comparison's cells concurrently and return ``run`` when every cell is settled.

    ``on_result(cell)`` and ``on_wait(run)`` are called on *this* thread (so a
    Streamlit page may draw from them): ``on_result`` once per cell, in the order
    cells finish; ``on_wait`` every ~0.05 s while waiting.  A cell still running
    ``timeout_s`` after its call went out becomes a ProviderDown "timed out"
    error.  Setting ``cancel_event`` (or an exception escaping a callback) keeps
    the finished cells and records every other one as cancelled.
    """
    calls = dict(calls or {})
    cancel_event = cancel_event or threading.Event()
    translations = _Translations(configs, record, run.group_id, page, person)
    lock = threading.Lock()
    claimed: set[tuple[int, int]] = set()  # cells whose outcome is decided: first claim wins
    finished: queue.Queue[Cell] = queue.Queue()  # cells settled and recorded, for delivery on this thread

    def claim(cell: Cell) -> bool:
        with lock:
            if cell.key in claimed:
                return False
            claimed.add(cell.key)
            return True

    def settle(cell: Cell, result: ImageResult | None, error: StudioError | None) -> None:
        """Fill in the outcome and write the cell's one ledger row (only the claimer gets here)."""
        cell.result, cell.error = result, error
        if cell.latency_ms is None and cell.started_at is not None:
            cell.latency_ms = (time.monotonic() - cell.started_at) * 1000
        target = cell.target
        from lib import send

        request = send.Request(target.provider, "generate", target.model, cell.prompt_sent or cell.prompt,
                               {k: v for k, v in target.settings.items() if k != "timeout"}, page=page,
                               group_id=run.group_id, person=person)
        outcome = send.record_outcome(configs.get(target.provider),
                                      send.Outcome(request, result, error, latency_ms=cell.latency_ms, call_id=cell.call_id),
                                      record=record)
        cell.row, cell.ledger_problem = outcome.row, outcome.ledger_problem
        cell.status = "ok" if error is None else error.status_label  # last: a settled cell is complete

    def work(cell: Cell) -> None:
        if cancel_event.is_set() or cell.key in claimed:
            return
        target = cell.target
        cfg = configs.get(target.provider)
        cell.status = "running"
        cell.started_at = time.monotonic()
        result, error = None, None
        try:
            call = calls.get(target.provider) or engine_call(target.provider, page)
            if cfg is None or not cfg.usable:
                raise AuthError(
                    (cfg.problem if cfg is not None else None) or f"{target.provider} is not set up.",
                    provider=target.provider,
                )
            if target.extra_headers:
                cfg = replace(cfg, extra_headers={**cfg.extra_headers, **target.extra_headers})
            cell.prompt_sent = (
                translations.english(cell.prompt, timeout_s) if needs_english(target) else cell.prompt
            )
            settings = {"model": target.model, **target.settings, "timeout": timeout_s}
            if cell.key in refused:
                raise refused[cell.key]
            if record is _record_with_store and cell.key not in begun:  # translated just now: its own pending row
                begin([cell])
                if cell.key in refused:
                    raise refused[cell.key]
            result = call(cfg, cell.prompt_sent, settings)
        except StudioError as exc:
            error = exc
        except Exception as exc:  # a provider bug must stay in its own cell
            error = ProviderDown(
                f"{target.label} failed unexpectedly ({type(exc).__name__}: "
                f"{redact(str(exc), [cfg.key] if cfg and cfg.key else [])[:200]}).",
                provider=target.provider, code=type(exc).__name__,
            )
        if claim(cell):
            cell.latency_ms = (time.monotonic() - cell.started_at) * 1000
            settle(cell, result, error)
            finished.put(cell)

    begun: set[tuple[int, int]] = set()  # cells whose pending row is written (or could not be: the ledger failed)
    refused: dict[tuple[int, int], StudioError] = {}  # cells a hard budget refused: nothing is sent for them

    def begin(cells: list[Cell]) -> None:
        """Pending rows before the calls go out, in one ledger transaction (a hard budget may refuse some)."""
        from lib import send

        pending = [send.Outcome(send.Request(c.target.provider, "generate", c.target.model, c.prompt_sent or c.prompt,
                                             dict(c.target.settings), page=page, group_id=run.group_id, person=person))
                   for c in cells]
        outcomes = send.begin_outcomes([(configs.get(c.target.provider), o) for c, o in zip(cells, pending)],
                                       timeout=timeout_s)  # the row's deadline: Compare's own clock
        for cell, outcome, refusal in zip(cells, pending, outcomes):
            cell.call_id = outcome.call_id
            begun.add(cell.key)
            if refusal is not None:
                refused[cell.key] = refusal

    if record is _record_with_store:
        # Every cell that will send its prompt as written gets its pending row now, all in one transaction: one
        # row write per cell on the workers queued them on the ledger's write lock, and the last call went out late.
        ready = [c for c in run.cells if _usable(configs.get(c.target.provider))
                 and not (needs_english(c.target) and looks_non_english(c.prompt))]
        if ready:
            begin(ready)

    todo: queue.SimpleQueue[Cell] = queue.SimpleQueue()
    for cell in run.cells:
        todo.put(cell)

    def worker() -> None:
        while not cancel_event.is_set():
            try:
                cell = todo.get_nowait()
            except queue.Empty:
                return
            work(cell)

    from lib.store.images import thumbnails_held

    # The cells' thumbnails are drawn once every cell is delivered: drawing them while answers were still arriving
    # took the interpreter from the cells still being checked and recorded.
    with thumbnails_held():
        delivered = 0
        try:
            _workers.start(worker, max(1, min(max_workers, len(run.cells))))
            while delivered < len(run.cells) and not cancel_event.is_set():
                _time_out_overdue(run, timeout_s, claim, settle, finished)
                try:
                    cell = finished.get(timeout=0.05)
                except queue.Empty:
                    if on_wait is not None:
                        on_wait(run)
                    continue
                delivered += 1
                if on_result is not None:
                    on_result(cell)
            if delivered < len(run.cells):  # cancelled: close every open cell, then deliver the rest
                _cancel_rest(run, claim, settle, finished)
                while delivered < len(run.cells):
                    try:  # cells claimed by a worker just before the cancel are only writing their ledger row
                        cell = finished.get(timeout=5)
                    except queue.Empty:
                        break
                    delivered += 1
                    if on_result is not None:
                        on_result(cell)
            return run
        except BaseException:
            # An exception from a callback (e.g. Streamlit stopping the script for a rerun): keep what finished.
            cancel_event.set()  # queued cells that start anyway return at once
            _cancel_rest(run, claim, settle, finished)
            raise


class _Workers:
    """Worker threads kept between runs.  A thread started per run and cell cost every call a thread start, and a
    hand-over of the interpreter, one after the other before the calls went out; kept threads take the cells at once.

    Daemon threads, not a ThreadPoolExecutor: a call left behind by a timeout or a cancel must not keep the process
    (Streamlit, pytest) waiting for it at exit, and it keeps only its own thread busy (a run that finds no idle
    thread starts one).  A thread idle for ``limits.COMPARE_WORKER_IDLE_S`` ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for a job that no start() has counted on yet
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def start(self, job: Callable[[], None], count: int) -> None:
        """Run ``job`` on ``count`` threads (each job returns when its run has no cell left for it)."""
        with self._lock:
            reused = min(self._idle, count)
            self._idle -= reused
            for _ in range(count):
                self._jobs.put(job)
        for _ in range(count - reused):
            threading.Thread(target=self._serve, name="compare-worker", daemon=True).start()

    def _serve(self) -> None:
        from lib import limits

        while True:
            try:
                job = self._jobs.get(timeout=limits.COMPARE_WORKER_IDLE_S)
            except queue.Empty:
                with self._lock:  # start() puts its jobs under this lock: an empty queue here has none coming
                    if self._jobs.empty():
                        self._idle -= 1
                        return
                continue
            try:
                job()
            except BaseException:  # noqa: BLE001  (work() keeps every failure in its cell; the thread stays)
                pass
            with self._lock:
                self._idle += 1


_workers = _Workers()


def _usable(cfg: ProviderConfig | None) -> bool:
    return cfg is not None and cfg.usable


def _time_out_overdue(run: CompareRun, timeout_s: float, claim, settle, finished: queue.Queue) -> None:
    """Settle every cell whose call has run past the timeout; its thread is left to finish on its own."""
    now = time.monotonic()
    for cell in run.cells:
        if cell.started_at is not None and now - cell.started_at >= timeout_s and claim(cell):
            cell.latency_ms = timeout_s * 1000
            settle(cell, None, ProviderDown(
                f"{cell.target.label} timed out: no answer within {timeout_s:g} s. "
                "The other targets were not held up; try this one again or allow more time.",
                provider=cell.target.provider, code="timeout",
            ))
            finished.put(cell)


def _cancel_rest(run: CompareRun, claim, settle, finished: queue.Queue) -> None:
    """Record every cell that has no outcome yet as cancelled (one ledger row each); finished cells stay."""
    run.cancelled = True
    for cell in run.cells:
        if claim(cell):
            settle(cell, None, Cancelled(
                f"Cancelled before {cell.target.label} answered." if cell.started_at is not None
                else f"Cancelled before this prompt was sent to {cell.target.label}.",
                provider=cell.target.provider, code="cancelled",
            ))
            finished.put(cell)


def _ledger_params(target: Target, result: ImageResult | None) -> dict[str, Any]:
    """What the ledger keeps as the call's settings: what was sent, else what the target asked for."""
    if result is not None and result.params:
        return dict(result.params)
    return {k: v for k, v in target.settings.items() if k != "timeout"}


# --- votes and the leaderboard -------------------------------------------------------------------

def leaderboard(votes: pd.DataFrame) -> pd.DataFrame:
    """Win rate per target over the votes, with the number of votes behind each figure.

    Each vote is one judged prompt of one comparison; every target in it takes
    part.  The named winner scores 1 and the others 0; a "tie" scores every
    target 1/2 (like a drawn game); "both bad" (none good) scores everyone 0.
    ``win_rate = (wins + ties / 2) / votes``.  When the same prompt of the same
    comparison was voted on more than once, only the latest vote counts.
    Columns: target, votes, wins, ties, both_bad, losses, win_rate; best first.
    """
    columns = ["target", "votes", "wins", "ties", "both_bad", "losses", "win_rate"]
    if votes is None or votes.empty:
        return pd.DataFrame(columns=columns)
    votes = votes.copy()
    if "created_at" in votes.columns:
        votes = votes.sort_values("created_at", kind="stable")
    if {"group_id", "prompt"} <= set(votes.columns):
        votes = votes.drop_duplicates(["group_id", "prompt"], keep="last")
    tally: dict[str, dict[str, int]] = {}
    for winner, targets in zip(votes["winner"], votes["targets"]):
        for target in _as_list(targets):
            t = tally.setdefault(target, {"votes": 0, "wins": 0, "ties": 0, "both_bad": 0, "losses": 0})
            t["votes"] += 1
            if winner == TIE:
                t["ties"] += 1
            elif winner == BOTH_BAD:
                t["both_bad"] += 1
            elif winner == target:
                t["wins"] += 1
            else:
                t["losses"] += 1
    frame = pd.DataFrame([{"target": name, **counts} for name, counts in tally.items()], columns=columns[:-1])
    frame["win_rate"] = (frame["wins"] + frame["ties"] / 2) / frame["votes"]
    return frame.sort_values(["win_rate", "votes"], ascending=[False, False], kind="stable").reset_index(drop=True)


def _as_list(targets: Any) -> list[str]:
    if isinstance(targets, str):
        try:
            value = json.loads(targets)
        except json.JSONDecodeError:
            return [t.strip() for t in targets.split(",") if t.strip()]
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return [str(t) for t in (targets if targets is not None else [])]


# --- export --------------------------------------------------------------------------------------

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:40] or "target"


def _pictures(cell: Cell, store) -> list[tuple[bytes, str]]:
    """A cell's pictures as (bytes, extension): from the image store when it has them, else from the result."""
    refs = getattr(cell.row, "output_refs", None)
    if store is not None and refs:
        return [(store.read(sha), store.extension(sha) or "png") for sha in refs if store.exists(sha)]
    return [(image.data, _EXTENSIONS.get(image.mime, "png")) for image in (cell.result.images if cell.result else [])]


def export_zip(run: CompareRun, store=None) -> bytes:
    """A zip of the comparison: every image, and ``comparison.csv`` with each cell's settings and outcome.

    With ``store`` (``lib.store`` image store) pictures are read from it, so a run
    whose bytes were forgotten (``forget_stored_images``) still exports whole.
    """
    buffer = io.BytesIO()
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow([
        "group_id", "prompt_no", "prompt", "prompt_sent", "target", "provider", "model", "settings", "status",
        "error", "latency_ms", "input_tokens", "output_tokens", "cost_usd", "cost_source", "ledger_id", "images",
    ])
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for cell in run.cells:
            names = []
            for i, (data, ext) in enumerate(_pictures(cell, store)):
                name = f"p{cell.prompt_index + 1:02d}_t{cell.target_index + 1}_{_slug(cell.target.label)}_{i + 1}.{ext}"
                zf.writestr(f"images/{name}", data)
                names.append(name)
            usage = cell.result.usage if cell.result else None
            row = cell.row
            writer.writerow([formula_safe(value) for value in [  # prompts and errors are text a spreadsheet must not run
                run.group_id, cell.prompt_index + 1, cell.prompt, cell.prompt_sent or "", cell.target.label,
                cell.target.provider, cell.target.model, json.dumps(_ledger_params(cell.target, cell.result)),
                cell.status, cell.error.message if cell.error else "",
                "" if cell.latency_ms is None else round(cell.latency_ms),
                "" if usage is None or usage.input_tokens is None else usage.input_tokens,
                "" if usage is None or usage.output_tokens is None else usage.output_tokens,
                "" if getattr(row, "cost_usd", None) is None else row.cost_usd,
                getattr(row, "cost_source", "") or "", getattr(row, "id", "") or "", " ".join(names),
            ]])
        zf.writestr("comparison.csv", table.getvalue())
    return buffer.getvalue()
