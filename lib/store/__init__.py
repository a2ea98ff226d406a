"""Where every call leaves its trace: ``open_store()`` gives the image store and the ledger, ``record_call()`` writes one row.

``begin_call()`` writes a call as ``pending`` before it goes out (checking a hard budget), and
``record_call(call_id=...)`` settles it.  ``record_call`` stores every image first (so a file exists
before the row naming it is committed, even against a concurrent delete), prices the call with
``lib.pricing``, and never writes a key.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from lib import APP_VERSION, budgets, clock, limits
from lib.config import ProviderConfig, data_dir
from lib.errors import StudioError, plain_request_id, redact, redact_known
from lib.people import LOCAL_KEY
from lib.pricing import price
from lib.store.images import MISSING_MESSAGE, ImageRef, ImageStore, PictureMissing, StoreUnavailable
from lib.store.ledger import BudgetExceeded, Ledger, LedgerRow, new_id, utc_now
from lib.types import ChatTurn, ImageResult

__all__ = ["open_store", "begin_call", "begin_calls", "record_call", "new_call_id", "recent_outputs", "LedgerRow", "ImageRef",
           "ImageStore", "Ledger", "StoreUnavailable", "BudgetExceeded", "PictureMissing", "MISSING_MESSAGE"]

LEDGER_FILE = "ledger.sqlite3"

BUDGET_KEY = budgets.TEAM_BUDGET_KEY      # ledger setting: a float, 0 or missing means no budget
HARD_BUDGET_KEY = budgets.HARD_BUDGET_KEY  # ledger setting: true makes the budgets limits calls cannot pass
new_call_id = new_id  # a call's id, made before the call so that a retried record never doubles its row

_stores: dict[tuple, tuple[ImageStore, Ledger]] = {}
_stores_lock = threading.Lock()


def open_store(data_dir_path: str | os.PathLike | None = None) -> tuple[ImageStore, Ledger]:
    """The image store and ledger under ``data_dir_path`` (default ``STUDIO_DATA_DIR``), one pair per dir per process.

    Raises ``StoreUnavailable`` with a plain message when the folder cannot be used.
    """
    root = Path(data_dir_path) if data_dir_path is not None else data_dir()
    root = root.expanduser().resolve()
    database_url = os.environ.get("STUDIO_DATABASE_URL", "").strip() or None
    storage_url = os.environ.get("STUDIO_STORAGE_URL", "").strip() or None
    key = (root, database_url, storage_url)
    with _stores_lock:
        found = _stores.get(key)
        if found is not None:
            return found
        try:
            root.mkdir(parents=True, exist_ok=True)
            # prove we can write here before anyone relies on it
            with tempfile.NamedTemporaryFile(dir=root, prefix=".probe-"):
                pass
        except OSError as exc:
            raise StoreUnavailable(
                f"The data folder {root} cannot be used ({exc.strerror or type(exc).__name__}). "
                "Set STUDIO_DATA_DIR to a folder this app can write to, then restart."
            ) from exc
        images = _image_store(root, storage_url)
        ledger = Ledger(root / LEDGER_FILE, images=images, url=database_url)
        _stores[key] = (images, ledger)
        return _stores[key]


def _image_store(root: Path, storage_url: str | None) -> ImageStore:
    """``STUDIO_STORAGE_URL``: ``s3://bucket/prefix``, or a folder (default: the data folder)."""
    if storage_url and storage_url.startswith("s3://"):
        from lib.store.s3 import S3ImageStore  # boto3 only when a bucket is asked for

        return S3ImageStore(storage_url)
    if storage_url:
        folder = Path(storage_url).expanduser().resolve()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"STUDIO_STORAGE_URL={storage_url} cannot be used as the picture folder "
                                   f"({exc.strerror or type(exc).__name__}).") from exc
        return ImageStore(folder)
    return ImageStore(root)


def _secrets(cfg: ProviderConfig | None) -> list[str]:
    """Every key this process might hold: the call's own and the environment's."""
    from lib.config import key_variables

    found = [os.environ.get(var, "").strip() for var in key_variables()]
    if cfg is not None and cfg.key:
        found.append(cfg.key)
    return [s for s in found if len(s) >= 4]


def _scrub(text: str | None, secrets: list[str]) -> str | None:
    """Cut known keys, whole or any 8+ character piece, out of user and provider text (prompts, revised prompts,
    replies); unlike ``redact`` it leaves key-shaped words alone."""
    return redact_known(text, secrets)


def _scrub_json(value: Any, secrets: list[str]) -> Any:
    """``value`` made JSON-safe, with known keys cut out of every string inside it (keys of dicts too)."""
    value = json.loads(json.dumps(value, ensure_ascii=False, default=str))

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return _scrub(item, secrets)
        if isinstance(item, list):
            return [walk(v) for v in item]
        if isinstance(item, dict):
            return {_scrub(k, secrets): walk(v) for k, v in item.items()}
        return item

    return walk(value)


def record_call(
    page: str,
    action: str,
    cfg: ProviderConfig,
    result: ImageResult | ChatTurn | None = None,
    error: StudioError | None = None,
    *,
    prompt: str | None = None,
    negative_prompt: str | None = None,
    params: dict[str, Any] | None = None,
    model: str | None = None,
    endpoint: str | None = None,
    inputs: list[bytes] | None = None,
    mask: bytes | None = None,
    group_id: str | None = None,
    output_text: str | None = None,
    latency_ms: float | None = None,
    ttft_ms: float | None = None,
    data_dir: str | os.PathLike | None = None,
    call_id: str | None = None,
    person: str | None = None,
) -> LedgerRow:
    """Store the call's images, price it and commit its ledger row (see docs/contracts.md).

    Explicit arguments win over what ``result`` says (e.g. ``params`` as the page
    sent them).  ``error`` sets status/http_status/error_code/error_message.
    With ``call_id`` (from ``begin_call`` or ``new_call_id``) it settles that row: recording the same
    call twice leaves one row.
    """
    images, ledger = open_store(data_dir)
    secrets = _secrets(cfg)
    notes: dict[str, Any] = {}
    stored: list[tuple[str, bytes]] = []

    def put_all(blobs: list[bytes]) -> list[ImageRef]:
        refs = []
        for blob in blobs:
            try:
                refs.append(images.put(blob))
                stored.append((refs[-1].sha256, blob))
            except StudioError:  # not an image, or a broken one (lib.imaging.BrokenPicture): the row still counts
                notes["unstored_images"] = notes.get("unstored_images", 0) + 1
        return refs

    input_refs = put_all(list(inputs or []))
    mask_refs = put_all([mask] if mask else [])
    output_refs: list[ImageRef] = []
    usage = None
    revised_prompt = None
    request_id = None
    merged_params: dict[str, Any] = {}
    status = "ok"

    if isinstance(result, ImageResult):
        for img in result.images:
            try:
                output_refs.append(images.put(img.data))
                stored.append((output_refs[-1].sha256, img.data))
            except StudioError as exc:  # cut off, corrupt, over the pixel budget: an error row, never an ok one
                error = error or exc
        usage = result.usage
        revised_prompt = next((img.revised_prompt for img in result.images if img.revised_prompt), None)
        request_id = result.request_id
        merged_params = dict(result.params or {})
        model = model or result.model
        endpoint = endpoint or result.endpoint
        latency_ms = latency_ms if latency_ms is not None else result.latency_ms
        ttft_ms = ttft_ms if ttft_ms is not None else result.ttft_ms
        seeds = [img.seed for img in result.images if img.seed is not None]
        if seeds:
            notes["seeds"] = seeds
        nsfw = [img.nsfw for img in result.images if img.nsfw is not None]
        if nsfw:
            notes["nsfw"] = nsfw
        if result.notes:
            notes["notes"] = list(result.notes)
    elif isinstance(result, ChatTurn):
        usage = result.usage
        request_id = result.request_id
        model = model or result.model
        output_text = output_text if output_text is not None else result.text
        latency_ms = latency_ms if latency_ms is not None else result.latency_ms
        ttft_ms = ttft_ms if ttft_ms is not None else result.ttft_ms
        if result.finish_reason:
            notes["finish_reason"] = result.finish_reason
        if not result.complete:
            notes["complete"] = False
            status = "cancelled"  # stopped early; an error passed with it says more
    merged_params.update(params or {})

    first = output_refs[0] if output_refs else None
    n_images = len(output_refs) if isinstance(result, ImageResult) else None
    size = merged_params.get("size") if isinstance(merged_params.get("size"), str) else (f"{first.width}x{first.height}" if first else None)
    quality = merged_params.get("quality") if isinstance(merged_params.get("quality"), str) else None

    if error is not None:
        status = error.status_label
        request_id = request_id or error.request_id
    if error is not None and usage is None:
        cost_usd, cost_source = None, "unpriced"  # nothing came back to price; not a silent 0
    else:
        cost_usd, cost_source = price(cfg.provider, model, usage, n_images=n_images or 0, size=size, quality=quality)

    usage_detail: dict[str, Any] = dict(usage.details) if usage is not None and usage.details else {}
    usage_detail.update(notes)

    row = LedgerRow(
        id=call_id or new_id(),
        created_at=utc_now(),
        page=page,
        action=action,
        provider=cfg.provider,
        backend=cfg.backend,
        status=status,
        cost_source=cost_source,
        group_id=group_id,
        endpoint=endpoint,
        model=_scrub(model, secrets),  # a chat reply names its model itself
        params=_scrub_json(merged_params, secrets),
        prompt=_scrub(prompt, secrets),
        negative_prompt=_scrub(negative_prompt, secrets),
        revised_prompt=_scrub(revised_prompt, secrets),
        input_refs=[r.sha256 for r in input_refs],
        mask_ref=mask_refs[0].sha256 if mask_refs else None,
        output_text=_scrub(output_text, secrets),
        output_refs=[r.sha256 for r in output_refs],
        n_images=n_images,
        width=first.width if first else None,
        height=first.height if first else None,
        input_tokens=usage.input_tokens if usage else None,
        output_tokens=usage.output_tokens if usage else None,
        usage_detail=_scrub_json(usage_detail, secrets),
        cost_usd=cost_usd,
        latency_ms=float(latency_ms) if latency_ms is not None else None,
        ttft_ms=float(ttft_ms) if ttft_ms is not None else None,
        http_status=error.http_status if error is not None else None,
        error_code=redact(error.code, secrets) if error is not None else None,
        error_message=redact(error.message, secrets) if error is not None else None,
        error_detail=redact(error.detail, secrets) if error is not None else None,
        request_id=plain_request_id(request_id, secrets),  # a plain id holding no key, or none at all
        app_version=APP_VERSION,
        person=person or LOCAL_KEY,
        key_source=cfg.key_source,
    )
    return _commit(images, ledger, row, stored, settle=call_id is not None)


def _commit(images: ImageStore, ledger: Ledger, row: LedgerRow, stored: list[tuple[str, bytes]], *, settle: bool) -> LedgerRow:
    """Commit ``row`` while no delete can remove images: any of its images a delete took since they were
    stored is stored again first, so the row never names a missing file."""
    with ledger.images_held() as conn:
        for sha, blob in stored:
            if not images.exists(sha):
                images.put(blob)
        return ledger.settle(row, conn=conn) if settle else ledger.insert(row, conn=conn)


def begin_call(
    page: str,
    action: str,
    cfg: ProviderConfig,
    *,
    prompt: str | None = None,
    negative_prompt: str | None = None,
    params: dict[str, Any] | None = None,
    model: str | None = None,
    endpoint: str | None = None,
    inputs: list[bytes] | None = None,
    mask: bytes | None = None,
    group_id: str | None = None,
    estimate_usd: float | None = None,
    call_id: str | None = None,
    data_dir: str | os.PathLike | None = None,
    person: str | None = None,
    timeout_s: float | None = None,
) -> str:
    """Write the call as a ``pending`` row before it goes out; returns its id for ``record_call(call_id=...)``.

    The row holds ``estimate_usd`` until settled.  When the budgets are hard limits (``lib.budgets``: the
    team's monthly budget and ``person``'s own), a live call that could pass either raises
    ``BudgetExceeded`` (a ``QuotaExceeded``, in words) and nothing is written.  ``timeout_s`` is the call's
    time limit (default ``lib.limits.provider_timeout_s()``): the row keeps the moment the call is certainly
    over (``lib.limits.pending_deadline_s``).  A pending row whose process dies, or that outlives that
    moment, is settled as ``interrupted`` (``Ledger.settle_interrupted``, run by every replica's sweeper).
    """
    (found,) = begin_calls([dict(
        page=page, action=action, cfg=cfg, prompt=prompt, negative_prompt=negative_prompt, params=params, model=model,
        endpoint=endpoint, inputs=inputs, mask=mask, group_id=group_id, estimate_usd=estimate_usd, call_id=call_id,
        person=person, timeout_s=timeout_s)], data_dir=data_dir)
    if isinstance(found, BudgetExceeded):
        raise found
    return found


def begin_calls(calls: list[dict[str, Any]], *, data_dir: str | os.PathLike | None = None) -> list[str | BudgetExceeded]:
    """``begin_call`` for calls about to go out together (each dict holds ``begin_call``'s arguments): one
    transaction and one read of the budget for all of them, so a Compare run's cells go out at once instead of
    queueing for the ledger.  Per call, in order: its row id, or the ``BudgetExceeded`` that refused it."""
    images, ledger = open_store(data_dir)
    hard = budgets.is_hard(ledger)
    team = budgets.team_budget(ledger) if hard else None
    own = {person: budgets.person_budget(ledger, person) for person in {c.get("person") or LOCAL_KEY for c in calls}} if hard else {}
    now = utc_now()
    rows, stored = [], []
    for call in calls:
        cfg, inputs, mask = call["cfg"], call.get("inputs"), call.get("mask")
        secrets = _secrets(cfg)
        kept: list[tuple[str, ImageRef, bytes]] = []
        for blob in [*(inputs or []), *([mask] if mask else [])]:
            try:
                kept.append((("mask" if blob is mask else "input"), images.put(blob), blob))
            except StudioError:
                pass  # not an image, or a broken one: record_call notes it when it settles the row
        stored += kept
        rows.append((LedgerRow(
            id=call.get("call_id") or new_id(), created_at=now, page=call["page"], action=call["action"],
            provider=cfg.provider, backend=cfg.backend, status="pending", group_id=call.get("group_id"),
            endpoint=call.get("endpoint"), model=call.get("model"),
            params=_scrub_json(dict(call.get("params") or {}), secrets), prompt=_scrub(call.get("prompt"), secrets),
            negative_prompt=_scrub(call.get("negative_prompt"), secrets),
            input_refs=[ref.sha256 for kind, ref, _ in kept if kind == "input"],
            mask_ref=next((ref.sha256 for kind, ref, _ in kept if kind == "mask"), None),
            app_version=APP_VERSION, person=call.get("person") or LOCAL_KEY, key_source=cfg.key_source,
        ), call.get("estimate_usd"), limits.pending_deadline_s(call.get("timeout_s"))))
    with ledger.images_held():
        for _kind, ref, blob in stored:
            if not images.exists(ref.sha256):
                images.put(blob)
        found = ledger.begin_many(rows, limit_usd=team, person_limits=own, since=clock.month_start(now))
    return [item if isinstance(item, BudgetExceeded) else item.id for item in found]


def recent_outputs(ledger: Ledger, limit: int = 60) -> list[dict[str, str]]:
    """The newest stored result images, one entry per image (``sha``, ``label`` saying when, model, prompt)."""
    found, seen = [], set()
    for record in ledger.frame(limit=limit, statuses="ok").itertuples():
        for sha in json.loads(record.output_refs or "[]"):
            if sha not in seen:
                seen.add(sha)
                prompt = record.prompt if isinstance(record.prompt, str) else ""
                found.append({"sha": sha, "label": f"{record.created_at:%d %b %H:%M} · {record.model} · {prompt[:50] or record.action}"})
    return found
