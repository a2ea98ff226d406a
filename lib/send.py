"""One send path for every image call: the engine call, then its ledger row, whatever happened.

Pages and Compare call ``send`` (or, when they keep their own clock as Compare
does, ``call_engine`` on a worker and ``record_outcome`` when the cell is
settled).  Any exception becomes a ``StudioError`` with a message in words and a
ledger row; a call that came back (and may be billed) is never missing from the
ledger: if writing its row fails, the outcome still carries the pictures and a
sentence saying the ledger could not record it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from lib.errors import Cancelled, ProviderDown, StudioError, redact
from lib.providers import registry
from lib.providers.base import EDIT, GENERATE, INPAINT, VARIATION, Engine, OnProgress
from lib.types import ImageResult


@dataclass
class Request:
    """What a page gathered: which engine and model, the prompt, the settings and any input pictures."""

    engine: str
    action: str  # generate | edit | variation | inpaint
    model: str
    prompt: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    images: list[bytes] = field(default_factory=list)  # edit/variation/inpaint inputs, first = the one to change
    mask: bytes | None = None  # studio convention: transparent = edit
    page: str = "generate"
    group_id: str | None = None
    record_params: dict[str, Any] | None = None  # extra facts for the ledger's params (e.g. input fixes)
    person: str | None = None  # lib.people.Person.key of who asked (None: the single local user)


@dataclass
class Outcome:
    """What came of a request: the result or the error, its ledger row, and any problem writing that row."""

    request: Request
    result: ImageResult | None = None
    error: StudioError | None = None
    row: Any = None
    ledger_problem: str | None = None
    latency_ms: float | None = None
    call_id: str | None = None  # the pending row written before the call went out (send), settled by record_outcome

    @property
    def ok(self) -> bool:
        return self.error is None and self.result is not None


def engine_for(request: Request) -> Engine:
    engine = registry.get(request.engine)
    if engine is None:
        raise StudioError(f"There is no engine called {request.engine!r}; pick one from the list.",
                          param="engine", code="unknown_engine")
    return engine


def call_engine(cfg, request: Request, *, timeout: float | None = None, on_progress: OnProgress | None = None,
                retries: bool = True, secrets: list[str] | None = None) -> ImageResult:
    """The engine call alone; every failure is a StudioError whose message says what to do."""
    try:
        engine = engine_for(request)
        if cfg is None or not cfg.usable:
            from lib.errors import AuthError

            raise AuthError((cfg.problem if cfg is not None else None) or f"{engine.label} is not set up.",
                            provider=request.engine)
        engine.refuse(engine.check(request.model, request.action, request.prompt, request.settings))
        common = dict(model=request.model, settings=dict(request.settings), timeout=timeout, on_progress=on_progress)
        if request.action == GENERATE:
            return engine.generate(cfg, prompt=request.prompt or "", retries=retries, **common)
        if not request.images:
            from lib.errors import InvalidInput

            raise InvalidInput("Add a picture first.", provider=request.engine, param="image")
        if request.action == EDIT:
            return engine.edit(cfg, prompt=request.prompt or "", images=list(request.images), mask=request.mask, **common)
        if request.action == VARIATION:
            return engine.vary(cfg, image=request.images[0], prompt=request.prompt, **common)
        if request.action == INPAINT:
            return engine.inpaint(cfg, prompt=request.prompt or "", image=request.images[0], mask=request.mask, **common)
        raise StudioError(f"Unknown action {request.action!r}.", provider=request.engine, code="unknown_action")
    except StudioError:
        raise
    except Exception as exc:  # a bug or an unexpected reply stays a message, never a traceback
        keys = list(secrets or []) + ([cfg.key] if cfg is not None and getattr(cfg, "key", None) else [])
        raise ProviderDown(
            f"The call failed unexpectedly ({type(exc).__name__}: {redact(str(exc), keys)[:200]}). "
            "Your prompt and settings are kept; try again.", provider=request.engine, code=type(exc).__name__,
        ) from exc


def _record(**fields):
    from lib.store import record_call

    return record_call(**fields)


def begin_chat(*, cfg, page: str, action: str, model: str, messages: list[dict], max_tokens: int | None = None,
               prompt: str | None = None, params: dict | None = None, group_id: str | None = None,
               person: str | None = None, endpoint: str | None = None, timeout_s: float | None = None) -> str | None:
    """A chat-model call's ``pending`` row before it goes out (Chat's turns, the pipeline's steps), holding its
    estimated cost; its id is for ``record_call(call_id=...)``.  ``timeout_s`` bounds the whole call (default the
    provider time limit; a streamed reply passes its own, ``ChatStream.reply_limit_s``).  A hard budget it would pass raises
    ``BudgetExceeded`` (record it with ``record_call(error=...)``; nothing may be sent).  ``None`` when the ledger
    cannot be written: the call goes on and its row is tried again when it settles."""
    from lib import pricing
    from lib.store import BudgetExceeded, begin_call

    try:
        estimate = pricing.estimate_chat(cfg.provider, model, messages, max_tokens)
    except Exception:  # noqa: BLE001  (an estimate is advice; a broken one must not stop the call)
        estimate = None
    try:
        return begin_call(page, action, cfg, prompt=prompt, params=params, model=model, endpoint=endpoint,
                          group_id=group_id, estimate_usd=estimate, person=person, timeout_s=timeout_s)
    except BudgetExceeded:
        raise
    except StudioError:
        return None


def begin_outcome(cfg, outcome: Outcome, *, timeout: float | None = None) -> None:
    """Write the call's ``pending`` row before it goes out, holding its estimated cost (lib.store.begin_call);
    ``timeout`` is the call's time limit (None: ``lib.limits.provider_timeout_s()``), which bounds the row's deadline.

    A hard monthly budget it would pass raises ``BudgetExceeded`` (nothing sent); a ledger that cannot be
    written leaves ``call_id`` unset and the call goes on (its row is tried again when it settles)."""
    (refused,) = begin_outcomes([(cfg, outcome)], timeout=timeout)
    if refused is not None:
        raise refused


def begin_outcomes(calls: list[tuple[Any, Outcome]], *, timeout: float | None = None) -> list[StudioError | None]:
    """``begin_outcome`` for calls going out together, in one ledger transaction (lib.store.begin_calls).

    Per call, in order: ``None`` (its ``call_id`` is set, or left unset when the ledger cannot be written) or the
    ``BudgetExceeded`` that refused it (nothing may be sent for that one)."""
    from lib.store import begin_calls

    estimates: dict[tuple, float | None] = {}  # a Compare batch repeats each target once per prompt

    def pending_row(cfg, request: Request) -> dict[str, Any]:
        engine = registry.get(request.engine)
        same = (request.engine, request.model, repr(sorted(request.settings.items())))
        try:
            if same not in estimates:
                estimates[same] = engine.estimate_usd(request.model, dict(request.settings)) if engine else None
            estimate = estimates[same]
        except Exception:  # noqa: BLE001  (an estimate is advice; a broken one must not stop the call)
            estimate = None
        return dict(
            page=request.page, action=engine.ledger_action(request.action) if engine else request.action, cfg=cfg,
            prompt=request.prompt, model=request.model, group_id=request.group_id, estimate_usd=estimate,
            params={k: v for k, v in request.settings.items() if v is not None and v != "" and k != "timeout"},
            endpoint=engine.endpoint(request.model, request.action) if engine else None, person=request.person,
            timeout_s=timeout,
        )

    try:
        found = begin_calls([pending_row(cfg, outcome.request) for cfg, outcome in calls])
    except Exception:  # noqa: BLE001  (record_outcome will say it if the ledger stays unwritable)
        found = [None] * len(calls)
    refused: list[StudioError | None] = []
    for (_cfg, outcome), item in zip(calls, found):
        outcome.call_id = item if isinstance(item, str) else None
        refused.append(item if isinstance(item, StudioError) else None)
    return refused


def record_outcome(cfg, outcome: Outcome, *, record: Callable[..., Any] = _record) -> Outcome:
    """Write the outcome's one ledger row; a failure to write is said in ``ledger_problem``, never raised."""
    request = outcome.request
    engine = registry.get(request.engine)
    action = engine.ledger_action(request.action) if engine else request.action
    result, error = outcome.result, outcome.error
    params = dict(result.params) if result is not None and result.params else {
        k: v for k, v in request.settings.items() if v is not None and v != "" and k != "timeout"}
    params.update(request.record_params or {})
    if result is not None and result.notes and "notes" not in params:
        params["notes"] = list(result.notes)
    seeds = [image.seed for image in (result.images if result else []) if image.seed is not None]
    if seeds:
        params["seeds"] = seeds  # the seeds used, so "reuse these settings" redraws the same pictures
    negative = request.settings.get("negative_prompt") or None
    try:
        outcome.row = record(
            page=request.page, action=action, cfg=cfg, result=result, error=error, prompt=request.prompt,
            negative_prompt=negative, params=params, model=request.model,
            endpoint=(result.endpoint if result is not None else (engine.endpoint(request.model, request.action)
                                                                   if engine else None)),
            inputs=list(request.images) or None, group_id=request.group_id,
            mask=(engine.mask_as_sent(request.mask) if engine else request.mask) if request.mask else None,
            latency_ms=(result.latency_ms if result is not None and result.latency_ms is not None else outcome.latency_ms),
            **({"call_id": outcome.call_id} if outcome.call_id else {}),  # settles the pending row: one row per call
            **({"person": request.person} if request.person else {}),
        )
    except Exception as exc:  # a full disk must not hide a result the person already paid for
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        outcome.ledger_problem = redact(f"This result could not be written to the ledger: {message}")[:300]
    return outcome


def send(cfg, request: Request, *, timeout: float | None = None, on_progress: OnProgress | None = None,
         after: Callable[[ImageResult], None] | None = None, record: Callable[..., Any] = _record) -> Outcome:
    """Call the engine and write its ledger row; the outcome holds the result or the error (never raises a StudioError).

    ``after(result)`` may change the pictures before they are stored (e.g. paste the
    unmasked pixels back); its own failure becomes the outcome's error, and the row
    still records the call with the pictures and usage that came back.  A Stop (KeyboardInterrupt, Streamlit's rerun) records a
    cancelled row and is raised again.
    """
    outcome = Outcome(request)
    started = time.perf_counter()
    try:
        if record is _record and cfg is not None:  # a caller's own recorder (tests) keeps its own rows
            begin_outcome(cfg, outcome, timeout=timeout)  # pending before it goes out: a kill mid-call still leaves the row
        outcome.result = call_engine(cfg, request, timeout=timeout, on_progress=on_progress)
        if after is not None:
            try:
                after(outcome.result)
            except StudioError:
                raise
            except Exception as exc:
                raise ProviderDown(f"The pictures came back but could not be finished ({type(exc).__name__}). "
                                   "Try again.", provider=request.engine, code=type(exc).__name__) from exc
    except StudioError as exc:
        outcome.error = exc
        if outcome.result is not None and not outcome.result.images:
            outcome.result = None
    except BaseException:  # the person pressed Stop or left the page mid-call: the row still says so
        outcome.result, outcome.error = None, Cancelled(
            "Stopped before the pictures arrived; anything already made was not kept.", provider=request.engine)
        outcome.latency_ms = (time.perf_counter() - started) * 1000
        record_outcome(cfg, outcome, record=record)
        raise
    outcome.latency_ms = (time.perf_counter() - started) * 1000
    # Billed but unfinished (``after`` failed): the row keeps the pictures and usage as they came, and the error.
    record_outcome(cfg, outcome, record=record)
    if outcome.ledger_problem and outcome.error is not None:
        outcome.error.message += f" (The ledger could not record it either: {outcome.ledger_problem})"
    return outcome
