"""Any server speaking OpenAI's ``/v1/images/*`` (LocalAI, vLLM, proxies, Azure OpenAI's v1 path) as an engine.

Configured by ``OPENAI_COMPAT_BASE_URL`` (required: there is no default server) and
``OPENAI_COMPAT_API_KEY`` (optional: local servers often need none).  The DALL·E
contract lives here (dall-e-2 with ``/images/variations``, dall-e-3, URL or
base64 answers; nothing is "retired" on a server that still serves it), plus
whatever image models the server's ``GET /v1/models`` lists.  Azure preset (``lib.providers.azure``): the v1
path (``https://{resource}.openai.azure.com/openai/v1``) gets its key in the ``api-key`` header too; a deployment
URL (``…/openai/deployments/{deployment}/images/generations?api-version=…``) goes through the SDK's
``AzureOpenAI`` client and offers that deployment as the one model (generate and edits); Azure's content-filter
codes (``contentFilter``, ``content_policy_violation``), its 401 and 403 resource block, unknown deployments and
api-versions are said in words that name the variable to change.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from lib import catalog
from lib.errors import AuthError, ContentRejected, InvalidInput, NotAvailable, QuotaExceeded, StudioError
from lib.providers import azure
from lib.providers.base import EngineModel, GENERATE, Capabilities
from lib.providers.openai_engine import OpenAIImages, engine_model
from lib.types import ImageResult

AZURE_HOSTS = azure.AZURE_HOSTS
# Listed ids that look like image models (a compatible server lists its chat and embedding models too).
_IMAGE_ID = re.compile(r"(image|dall-?e|flux|stable-?diffusion|sdxl|sd-?\d|kandinsky|playground|imagen)", re.I)
_FILTER_CODES = {"contentFilter", "content_filter", "ResponsibleAIPolicyViolation"}
# What a listed model the catalog lacks is taken to do (OpenAIImages.settings without a catalog row), said where
# it is picked, so nobody mistakes a guess for a fact.
ASSUMED = ("its capabilities are assumed, not from the catalog: it makes pictures from a prompt only (no edits or "
           "variations here), takes any size you type (default auto) and 1 to 10 pictures a call, and has no known "
           "price (its ledger rows stay unpriced)")


def assumed_model(model_id: str) -> EngineModel:
    """A model the server lists that the catalog has no row for."""
    return EngineModel(model_id, f"{model_id} (listed by the server)", Capabilities(generate=True),
                       warning=f"{model_id} is offered by the server but not in this studio's catalog, so {ASSUMED}.")


def is_azure(base_url: str) -> bool:
    return azure.is_azure(base_url)


class OpenAICompatible(OpenAIImages):
    id = "openai_compat"
    label = "OpenAI-compatible server"
    key_vars = ("OPENAI_COMPAT_API_KEY",)
    base_url_var = "OPENAI_COMPAT_BASE_URL"
    default_base_url = None
    key_label = "OpenAI-compatible server key (optional)"
    key_optional = True
    needs_base_url = True
    demo_face = "compat_base_url"
    genai_prices_provider = "openai"
    prices_as = "openai"  # OpenAI's list prices: a compatible server may charge otherwise (cost_source says "table")
    blurb = ("Any server with OpenAI's image API at OPENAI_COMPAT_BASE_URL (LocalAI, vLLM, Azure OpenAI v1): "
             "DALL·E 2 and 3, variations, and whatever image models it lists.")
    rows_of = "openai"  # the catalog rows it serves: OpenAI's own models, none of them retired here

    def base_url_problem(self, base_url: str) -> str | None:
        """An Azure URL that is neither the v1 path nor a deployment URL with its api-version says which to use."""
        return azure.url_problem(base_url)

    def models(self, cfg, action: str | None = None) -> list[EngineModel]:
        from lib.providers.openai_engine import _ACTION_CAPABILITY

        capability = _ACTION_CAPABILITY.get(action, action)
        rows = [m for m in catalog.engine_models(self.rows_of) if capability is None or m.can(capability)]
        deployment = azure.deployment(cfg.base_url) if cfg is not None else None
        # An Azure deployment URL serves one model, its deployment (Azure lists no models there).
        listed = (frozenset({deployment.name}) if deployment else
                  catalog.available_model_ids(cfg) if cfg is not None else None)
        if listed:
            narrowed = [m for m in rows if m.id in listed or listed.intersection(m.aliases)]
            rows = narrowed or rows
        found = [engine_model(m) for m in rows]
        if listed and action in (None, GENERATE):  # image models the catalog does not know: generate only
            known = {m.id for m in catalog.engine_models(self.rows_of)}
            for model_id in sorted(listed - known):
                if deployment or _IMAGE_ID.search(model_id):
                    found.append(assumed_model(model_id))
        # DALL-E first: it is what such servers are for, and what nobody else serves any more.
        return sorted(found, key=lambda m: not m.id.startswith("dall-e"))

    def model(self, model_id: str) -> EngineModel | None:
        spec = self.spec(model_id)
        if spec is not None:
            return dataclasses.replace(engine_model(spec), warning=None)  # retirement is api.openai.com's business
        return None

    def spec(self, model_id: str | None) -> catalog.ImageModel | None:
        spec = catalog.image_model(model_id) if model_id else None
        return spec if spec is not None and spec.engine == self.rows_of else None

    def settings(self, model_id: str, action: str = GENERATE):
        found = super().settings(model_id, action)
        spec = self.spec(model_id)
        if spec is not None and spec.legacy and action == GENERATE:
            found = [s for s in found if s.name != "partial_images"]
        return found

    def generate(self, cfg, **kwargs) -> ImageResult:
        try:
            return self._as_azure(cfg, lambda c: super(OpenAICompatible, self).generate(c, **kwargs))
        except InvalidInput as err:
            raise self._on_assumed(kwargs.get("model"), kwargs.get("settings") or {}, err) from None

    def _on_assumed(self, model: str | None, settings: dict[str, Any], err: InvalidInput) -> InvalidInput:
        """A refusal of a setting the catalog could not vouch for says so (the settings were a guess)."""
        if not model or self.spec(model) is not None or err.http_status not in (400, 422):
            return err
        value = settings.get(err.param) if err.param else None
        what = f"{err.param} {value}" if value is not None else (f"the {err.param} setting" if err.param else "the request")
        hint = ("Try another size, or leave it on auto." if err.param == "size" else
                "Change that setting and try again." if err.param else "Try other settings, or a model the catalog knows.")
        return InvalidInput(
            f"This server refused {what} for model {model} ({err.detail or err.message}). The catalog has no facts "
            f"for this model, so its settings were assumed. {hint}", provider=self.id, param=err.param,
            http_status=err.http_status, code=err.code, request_id=err.request_id, detail=err.detail)

    def edit(self, cfg, **kwargs) -> ImageResult:
        return self._as_azure(cfg, lambda c: super(OpenAICompatible, self).edit(c, **kwargs))

    def vary(self, cfg, **kwargs) -> ImageResult:
        return self._as_azure(cfg, lambda c: super(OpenAICompatible, self).vary(c, **kwargs))

    def _as_azure(self, cfg, call) -> ImageResult:
        """Azure wants its key in ``api-key``; its content filter answers with codes of its own."""
        if is_azure(cfg.base_url) and cfg.key:
            cfg = dataclasses.replace(cfg, extra_headers={**cfg.extra_headers, "api-key": cfg.key})
        try:
            return call(cfg)
        except StudioError as err:
            same = dict(provider=self.id, http_status=err.http_status, code=err.code, request_id=err.request_id,
                        detail=err.detail)
            if err.code in _FILTER_CODES or "safety system" in (err.message or "") and err.http_status == 400:
                what = ("the picture it made" if "generated image" in (err.detail or "").lower() else "this request")
                raise ContentRejected(
                    f"The server's content filter refused {what} (Azure: {err.code or 'content filter'}). "
                    "Rephrase the prompt, or use other pictures.", **same) from None
            deployment = azure.deployment(cfg.base_url)
            on_azure = deployment is not None or is_azure(cfg.base_url)
            if on_azure and err.http_status == 401:
                raise AuthError(
                    "Azure OpenAI refused the key (401: an invalid key, or a key of another resource). Set "
                    "OPENAI_COMPAT_API_KEY to one of this resource's keys (Keys and Endpoint in the Azure portal) and "
                    "check that OPENAI_COMPAT_BASE_URL names the same resource.", **same) from None
            if on_azure and err.http_status == 403 and err.code == "Forbidden":
                raise AuthError(
                    "Azure has temporarily blocked pictures on this resource for suspected content-policy "
                    "violations (403 Forbidden); it is not a problem with the key. Ask Azure support to lift the "
                    "block (https://aka.ms/aoaicodeofconduct), or point OPENAI_COMPAT_BASE_URL at another "
                    "resource.", **same) from None
            if on_azure and err.http_status == 429 and err.code != "insufficient_quota":
                when = f"in {err.retry_after:g} s" if err.retry_after else "in a moment"
                raise QuotaExceeded(
                    f"Azure OpenAI's rate limit for this deployment was hit (its calls per minute). Try again {when}, "
                    "or raise the deployment's quota in the Azure portal (Quotas).", retry_after=err.retry_after,
                    **same) from None
            if deployment is not None and err.code == "DeploymentNotFound":
                raise NotAvailable(
                    f"Azure has no deployment named {deployment.name!r} on this resource (404). Check the deployment "
                    "name in OPENAI_COMPAT_BASE_URL against your Azure deployments.", **same) from None
            if deployment is not None and err.http_status in (400, 404) and (
                    "api version" in (err.detail or "").lower() or err.code == "404"):
                raise InvalidInput(
                    f"Azure refused api-version {deployment.api_version} for this deployment ({err.detail}). Set "
                    f"?api-version={azure.IMAGE_API_VERSION} (or a later one) in OPENAI_COMPAT_BASE_URL.",
                    **same) from None
            raise


ENGINE = OpenAICompatible()
