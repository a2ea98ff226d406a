"""One call at a time per page and session, and a result that survives the rerun it arrives after.

Streamlit reruns the script when a person clicks while a call is in flight: the
run that was waiting is abandoned at its next Streamlit call, and the click
starts the same call again.  Five quick clicks on Generate used to make five
billed calls and keep one picture.  So a page hands its call to ``start``,
which runs it on a worker thread owned by the session; while it runs the page's
button is disabled (``busy``), a click that slipped through before the button
greyed out is ignored, and whichever run of the script comes next waits for the
same call (``collect``) and shows its outcome exactly once.

The worker never touches Streamlit: progress goes into the job, and the waiting
script run draws it.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import streamlit as st

from lib.errors import StudioError
from lib.ui.safe_text import md_literal

POLL_S = 0.05  # how often a waiting run looks at the job; the result shows at most this late


@dataclass
class Job:
    """A call running for this session: its outcome once done, and the newest progress it reported."""

    label: str
    context: dict[str, Any] = field(default_factory=dict)  # what the page needs to draw the wait (e.g. how many previews)
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Any = None
    failure: BaseException | None = None
    progress: Any = None
    progress_seen: int = 0
    progress_count: int = 0
    started: float = field(default_factory=time.monotonic)
    stopping: threading.Event = field(default_factory=threading.Event)  # the person asked to stop: the worker winds down
    on_stop: Callable[[], None] | None = None  # set by a worker that can break off a call in flight (e.g. a stream)

    def failure_as_error(self) -> StudioError:
        """What to show when the call itself raised: our own error as it is (e.g. the chain's "write an idea
        first"), anything else in general words (the send path turns every provider failure into an outcome)."""
        if isinstance(self.failure, StudioError):
            return self.failure
        name = type(self.failure).__name__ if self.failure is not None else "no outcome"
        return StudioError(f"The call failed unexpectedly ({name}). Your prompt and settings are kept; try again.",
                           code=name)

    def stop(self) -> None:
        """Ask the worker to stop (the page's Stop or Cancel button)."""
        self.stopping.set()
        if self.on_stop is not None:
            self.on_stop()

    def report(self, progress: Any) -> None:
        """For the worker: the newest progress (a waiting run draws it)."""
        self.progress = progress
        self.progress_count += 1


def _jobs() -> dict[str, Job]:
    return st.session_state.setdefault("_jobs", {})


def busy(key: str) -> bool:
    """Whether this session has a call under ``key`` that has not been shown yet."""
    return key in _jobs()


def running(key: str) -> Job | None:
    """The call under ``key`` that has not been shown yet, if any."""
    return _jobs().get(key)


def start(key: str, call: Callable[[Job], Any], *, label: str, **context: Any) -> Job:
    """Run ``call(job)`` on a worker thread unless one is already running under ``key`` (then that one is kept)."""
    jobs = _jobs()
    if key in jobs:
        return jobs[key]
    job = jobs[key] = Job(label, context)

    def work() -> None:
        try:
            job.outcome = call(job)
        except BaseException as exc:  # noqa: BLE001 - handed to the page, which says it in words
            job.failure = exc
        finally:
            job.done.set()

    threading.Thread(target=work, name=f"studio-job-{key}", daemon=True).start()
    return job


def collect(key: str, *, on_progress: Callable[[Any], None] | None = None) -> Job | None:
    """Wait for the call under ``key`` (if any), then hand it over once: the next run no longer sees it."""
    job = _jobs().get(key)
    if job is None:
        return None
    # A click or a page switch only ends this run (Streamlit stops it to start the next): the call goes on and the
    # next run of the page waits for it.  Only the page's own Stop/Cancel button (``Job.stop``) stops the call.
    with st.spinner(job.label):
        while not job.done.wait(POLL_S):
            if on_progress is not None and job.progress_count != job.progress_seen:
                job.progress_seen = job.progress_count
                on_progress(job.progress)
    _jobs().pop(key, None)
    return job


def settle(key: str, *, drawn_disabled: bool, last_error: str, unrecorded: str, on_row: Callable[[str], None],
           on_progress: Callable[[Any], None] | None = None) -> None:
    """Wait for a send-path call under ``key`` (if any) and keep what came of it in session state, once:

    its error under ``last_error``, its ledger row's id through ``on_row``, and pictures that came back but
    could not be written to the ledger, with the reason, under ``unrecorded`` (``show_unrecorded`` draws
    them).  When this run drew the page's button greyed out, it runs the page again so the button works.
    """
    job = collect(key, on_progress=on_progress)
    if job is None:
        return
    outcome = job.outcome
    if outcome is None:  # the send path never raises a StudioError; anything else is still said in words
        st.session_state[last_error] = job.failure_as_error()
    else:
        if outcome.error is not None:  # nothing lost: the message, the inputs as they were, and a ledger row
            st.session_state[last_error] = outcome.error
        if outcome.row is not None:
            on_row(outcome.row.id)
        elif outcome.ledger_problem:  # made (and maybe billed) but not recorded: show the pictures all the same
            pictures = [p.data for p in outcome.result.images] if outcome.result is not None else []
            st.session_state[unrecorded] = (outcome.ledger_problem, pictures)
    if drawn_disabled:
        st.rerun()


def show_unrecorded(unrecorded: str) -> None:
    """Pictures ``settle`` kept because the ledger could not take them, with the reason."""
    if not st.session_state.get(unrecorded):
        return
    problem, pictures = st.session_state[unrecorded]
    st.warning(md_literal(problem), icon=":material/warning:")
    for picture in pictures:
        st.image(picture, width=512)
