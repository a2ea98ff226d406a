"""Every time limit and retry number the app uses, in one place (as openai-python keeps its ``_constants.py``).

``STUDIO_TIMEOUT_S`` (default 120) is the provider call time limit for every page and Compare: a hung
provider gives up within it plus ``DEADLINE_GRACE_S``, retries included.
"""
from __future__ import annotations

import os

TIMEOUT_VAR = "STUDIO_TIMEOUT_S"
DEFAULT_PROVIDER_TIMEOUT_S = 120.0  # image calls at high quality take a while
MIN_PROVIDER_TIMEOUT_S = 0.1

# How long the tests and the pages promise a hung call takes beyond the time limit before the message shows.
DEADLINE_GRACE_S = 5.0

CONNECT_TIMEOUT_S = 5.0  # a server that does not accept the connection this fast is not going to answer

# Retries happen only before anything could have been billed (connection refused, 429 with retry-after, 5xx)
# and never past the call's deadline.
MAX_RETRIES = 2
RETRY_BACKOFF_S = 0.5  # first wait; doubles per attempt
MAX_RETRY_WAIT_S = 8.0  # a longer retry-after is not waited for: the message says when to try again

# GET /v1/models, which narrows the model lists
MODELS_TIMEOUT_S = 5.0
MODELS_TTL_S = 600.0  # how long an answer is trusted
MODELS_FAILURE_TTL_S = 30.0  # a failed listing is asked again sooner: the server may be back

# Downloading a picture a provider answered with a URL
DOWNLOAD_TIMEOUT_S = 30.0  # the whole download, however slowly the bytes drip
DOWNLOAD_MAX_BYTES = 50 * 1024 * 1024  # the largest picture any engine returns is a few tens of MB (a 4K PNG)
DOWNLOAD_MAX_REDIRECTS = 3

# A streamed chat reply as a whole (each silence within it is bounded by the provider time limit): past this the
# studio stops reading, keeps the text, and says so; the reply's pending row is over by then too.
CHAT_REPLY_MAX_S = 600.0

# Compare: one target's whole call, unless the page asks for another
COMPARE_TIMEOUT_S = DEFAULT_PROVIDER_TIMEOUT_S
COMPARE_WORKER_IDLE_S = 300.0  # a Compare worker thread with nothing to do for this long ends (lib.compare._Workers)

# A call is written as a pending ledger row before it goes out, with the moment it must be over by: its own time
# limit plus DEADLINE_GRACE_S, plus this margin for what follows the answer (downloading URL results within
# DOWNLOAD_TIMEOUT_S, the paste-back, storing the pictures, writing the row). Past that moment it is in flight
# nowhere, so any replica, on any machine, may settle it as interrupted (a late outcome still settles it).
PENDING_SETTLE_MARGIN_S = DOWNLOAD_TIMEOUT_S + 30.0
# How often each app process looks for such rows (and for rows of dead processes on its own machine).
PENDING_SWEEP_INTERVAL_S = 15.0


class TimeoutSettingError(ValueError):
    """``STUDIO_TIMEOUT_S`` is set but is not a positive number of seconds."""


def provider_timeout_s() -> float:
    """The provider call time limit in seconds (``STUDIO_TIMEOUT_S``, default 120), read on every call."""
    raw = os.environ.get(TIMEOUT_VAR, "").strip()
    if not raw:
        return DEFAULT_PROVIDER_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= MIN_PROVIDER_TIMEOUT_S or value == float("inf"):
        raise TimeoutSettingError(
            f"{TIMEOUT_VAR}={raw!r} is not a time limit: write a number of seconds such as 120, or unset it."
        )
    return value


def pending_deadline_s(timeout_s: float | None = None) -> float:
    """Seconds after a call's pending row is written by which the call is certainly over, wherever it runs."""
    limit = provider_timeout_s() if timeout_s is None else float(timeout_s)
    return limit + DEADLINE_GRACE_S + PENDING_SETTLE_MARGIN_S
