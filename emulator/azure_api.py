"""Azure OpenAI's image routes, under ``/azure`` (see ../shared/reference/azure-openai-images-api.md).

Two URL styles, each for generations (JSON) and edits (multipart), the key in ``api-key`` (or
``Authorization: Bearer``):

- deployment style, ``POST /azure/openai/deployments/{deployment}/images/{generations,edits}?api-version=…``:
  the deployment comes from the path (a ``model`` in the body is ignored, as on Azure);
- v1, ``POST /azure/openai/v1/images/{generations,edits}``: the deployment is the body's ``model`` (required),
  ``api-version`` may be left out or be ``preview`` / ``latest``.

This emulator's deployments are named after the models they run.  Strict where Azure is:

- deployment style: no ``api-version`` → 404 ``Resource not found``; one Azure does not know → 400 ``API version
  not supported``; a GPT-image deployment on a version older than 2025-04-01-preview → 400 (the version that
  brought them); v1: any other ``api-version`` → 400 ``API version not supported``;
- no key → 401 (Azure's sentence); an unknown deployment → 404 ``DeploymentNotFound``; ``output_format``
  webp → 400 (Azure serves PNG and JPEG only); ``response_format`` for GPT-image → 400 (via the OpenAI checks);
- edits: multipart only (a JSON body → 400); input pictures PNG or JPG (WebP → 400); the mask rules, sizes and
  counts are OpenAI's (``emulator.openai_api.images_edits``): a PNG with alpha, the first image's size, under 4 MB;
- faults (``X-Emulator-Fault`` or ``[fault:…]`` in the prompt): ``moderation_blocked`` → 400
  ``content_policy_violation`` with ``inner_error.code`` ``ResponsibleAIPolicyViolation``; ``content_filter``
  → 400 ``contentFilter`` ("Your task failed as a result of our safety system."); ``output_filtered`` → the same
  code for a filtered picture; ``blocked`` → 403 ``Forbidden``; ``429`` → 429 with ``Retry-After``; ``401``.

The picture itself is drawn and validated by the OpenAI image routes (``emulator.openai_api``) on the compatible face.
"""
from __future__ import annotations

import logging
import secrets
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.faults import read_directives
from emulator.openai_models import COMPAT
from emulator.openai_schema import SchemaViolation
from emulator.openai_wire import ApiError, Call, read_body

PREFIX = "/azure"
# Data-plane versions that serve images (the GA ones with DALL·E, and the previews since gpt-image-1).
API_VERSIONS = ("2024-02-01", "2024-06-01", "2024-10-21", "2025-03-01-preview", "2025-04-01-preview")
GPT_IMAGE_SINCE = "2025-04-01-preview"
DEPLOYMENTS = ("gpt-image-2", "gpt-image-1.5", "gpt-image-1-mini")  # Azure retired its DALL·E deployments
_NO_KEY = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for "
           "an active subscription and use a correct regional API endpoint for your resource.")


class AzureError(Exception):
    """Azure's error envelope: ``{"error": {"code", "message", ...}}`` (plus a top-level ``created`` for the filter)."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 extra: dict | None = None, created: bool = False):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers, self.extra, self.created = headers or {}, extra or {}, created

    def response(self) -> JSONResponse:
        body: dict = {"error": {"code": self.code, "message": self.message, **self.extra}}
        if self.created:
            body = {"created": int(time.time()), **body}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def _fault(fault: str | None, operation: str, version: str | None) -> AzureError | None:
    if fault == "moderation_blocked":
        return AzureError(400, "content_policy_violation",
                          "Your request was rejected as a result of our safety system. Your prompt may contain text "
                          "that is not allowed by our safety system.",
                          extra={"type": "invalid_request_error", "param": None, "inner_error": {
                              "code": "ResponsibleAIPolicyViolation",
                              "content_filter_results": {"jailbreak": {"detected": False, "filtered": False},
                                                         "violence": {"filtered": True, "severity": "high"}}}})
    if fault == "content_filter":
        return AzureError(400, "contentFilter", "Your task failed as a result of our safety system.", created=True)
    if fault == "output_filtered":
        return AzureError(400, "contentFilter", "Generated image was filtered as a result of our safety system.",
                          created=True)
    if fault == "blocked":
        return AzureError(403, "Forbidden", "Your resource has been temporarily blocked because we detected behavior "
                                            "that may violate our content policy. For more details on Azure OpenAI "
                                            "service content policy, please visit https://aka.ms/aoaicodeofconduct")
    if fault == "429":
        return AzureError(429, "429", f"Requests to the {operation} Operation under Azure OpenAI API version "
                                      f"{version or 'v1'} have exceeded call rate limit of your current OpenAI S0 "
                                      "pricing tier. Please retry after 1 second.", headers={"retry-after": "1"})
    if fault == "401":
        return AzureError(401, "401", _NO_KEY)
    return None


def _checked_key(request: Request) -> str:
    key = (request.headers.get("api-key") or "").strip()
    if not key:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else ""
    if not key or "invalid" in key.lower():
        raise AzureError(401, "401", _NO_KEY)
    return key


def _checked_version(request: Request, v1: bool) -> str | None:
    version = request.query_params.get("api-version")
    if v1:  # the v1 GA surface needs none; Azure's own how-to still writes ?api-version=preview
        if version not in (None, "preview", "latest"):
            raise AzureError(400, "BadRequest", "API version not supported")
        return version
    if not version:
        raise AzureError(404, "404", "Resource not found")
    if version not in API_VERSIONS:
        raise AzureError(400, "BadRequest", "API version not supported")
    return version


def _checked_deployment(name, version: str | None, v1: bool) -> str:
    if v1 and (not isinstance(name, str) or not name.strip()):
        raise ApiError(400, "Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
    if name not in DEPLOYMENTS:
        raise AzureError(404, "DeploymentNotFound", "The API deployment for this resource does not exist. If you "
                         "created the deployment within the last 5 minutes, please wait a moment and try again.")
    if not v1 and name.startswith("gpt-image") and version < GPT_IMAGE_SINCE:
        raise AzureError(400, "BadRequest", f"Model {name} is enabled only for api versions {GPT_IMAGE_SINCE} and later")
    return name


def _refuse_webp_inputs(files: dict) -> None:
    """Azure's edits take PNG or JPG pictures only (api.openai.com also takes WebP)."""
    for name in ("image", "image[]"):
        for i, (_filename, data, mime) in enumerate(files.get(name, [])):
            if mime == "image/webp" or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
                param = name if name == "image" else f"image[{i}]"
                raise ApiError(400, f"Invalid file '{param}': unsupported mimetype ('image/webp'). Supported file "
                                    "formats are 'image/jpeg' and 'image/png'.", param=param,
                               code="unsupported_file_mimetype")


def routes(state) -> list[Route]:
    from emulator.openai_api import images_edits, images_generations

    def route(path: str, operation: str, *, v1: bool) -> Route:
        handler = images_edits if operation == "Images_Edits" else images_generations

        async def endpoint(request: Request) -> Response:
            request_id = secrets.token_hex(16)
            deadline = None
            try:
                try:
                    body, files, logged = await read_body(request, multipart=False)
                except Exception:  # a broken multipart body
                    body, files, logged = None, {}, {"raw": "<unreadable multipart body>"}
                state.log_call(request, logged)
                version = _checked_version(request, v1)
                key = _checked_key(request)
                if body is None:
                    raise AzureError(400, "BadRequest", "The request body could not be read: send JSON (or "
                                                        "multipart/form-data for image edits).")
                deployment = _checked_deployment(body.get("model") if v1 else request.path_params["deployment"],
                                                 version, v1)
                if operation == "Images_Edits" and not request.headers.get("content-type", "").startswith("multipart/"):
                    raise AzureError(400, "BadRequest", "Image edits take multipart/form-data (the image, mask and "
                                                        "fields as form parts).")
                prompt = body.get("prompt") if isinstance(body.get("prompt"), str) else None
                directives = read_directives(request.headers, prompt)
                deadline = state.deadline(directives.latency_ms)
                error = _fault(directives.fault, operation, version)
                if error is not None:
                    raise error
                if body.get("output_format") == "webp":
                    raise ApiError(400, "Invalid value: 'webp'. Supported values are: 'png' and 'jpeg'.",
                                   param="output_format", code="invalid_value")
                _refuse_webp_inputs(files)
                body = {**body, "model": deployment}  # the path names the deployment; a body's model is ignored
                call = Call(request, body, files, directives.fault, directives.clean_prompt, key, request_id,
                            directives.latency_ms, COMPAT, state.current_date())
                response = await handler(state, call)
            except (AzureError, ApiError) as err:
                response = err.response()
            except SchemaViolation as err:  # the OpenAI request schema's checks, in the same envelope
                response = ApiError(400, err.message, param=err.param, code=err.code).response()
            except Exception:  # an emulator bug: logged loudly, answered as a service error
                logging.getLogger("emulator").exception("emulator error on %s %s", request.method, request.url.path)
                response = AzureError(500, "InternalServerError", "The server had an error while processing your "
                                                                  "request.").response()
            if deadline is not None:
                await state.wait_until(deadline)
            response.headers["apim-request-id"] = request_id
            return response

        return Route(PREFIX + path, endpoint, methods=["POST"])

    return [route("/openai/deployments/{deployment}/images/generations", "Images_Generations", v1=False),
            route("/openai/deployments/{deployment}/images/edits", "Images_Edits", v1=False),
            route("/openai/v1/images/generations", "Images_Generations", v1=True),
            route("/openai/v1/images/edits", "Images_Edits", v1=True)]
