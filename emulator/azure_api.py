"""Azure OpenAI's deployment-style image route, under ``/azure`` (see ../shared/reference/azure-openai-images-api.md).

``POST /azure/openai/deployments/{deployment}/images/generations?api-version=…`` with the key in ``api-key``
(or ``Authorization: Bearer``).  The deployment comes from the path (a ``model`` in the body is ignored, as
on Azure); this emulator's deployments are named after the models they run.  Strict where Azure is:

- no ``api-version`` → 404 ``Resource not found``; one Azure does not know → 400 ``API version not supported``;
  a GPT-image deployment on a version older than 2025-04-01-preview → 400 (the version that brought them);
- no key → 401 (Azure's sentence); an unknown deployment → 404 ``DeploymentNotFound``; ``output_format``
  webp → 400 (Azure serves PNG and JPEG only); ``response_format`` for GPT-image → 400 (via the OpenAI checks);
- faults (``X-Emulator-Fault`` or ``[fault:…]`` in the prompt): ``moderation_blocked`` → 400
  ``content_policy_violation`` with ``inner_error.code`` ``ResponsibleAIPolicyViolation``; ``content_filter``
  → 400 ``contentFilter`` ("Your task failed as a result of our safety system."); ``output_filtered`` → the same
  code for a filtered picture; ``blocked`` → 403 ``Forbidden``; ``429`` → 429 with ``Retry-After``; ``401``.

The picture itself is drawn and validated by the OpenAI image route (``emulator.openai_api``) on the compatible face.
"""
from __future__ import annotations

import json
import secrets
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.faults import read_directives
from emulator.openai_models import COMPAT
from emulator.openai_schema import SchemaViolation
from emulator.openai_wire import ApiError, Call

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


def _fault(fault: str | None) -> AzureError | None:
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
        return AzureError(429, "429", "Requests to the Images_Generations Operation under Azure OpenAI API version "
                                      "2025-04-01-preview have exceeded call rate limit of your current OpenAI S0 "
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


def routes(state) -> list[Route]:
    from emulator.openai_api import images_generations

    async def generations(request: Request) -> Response:
        request_id = secrets.token_hex(16)
        deadline = None
        try:
            raw = await request.body()
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            state.log_call(request, body if isinstance(body, dict) else {"raw": raw[:2000].decode("utf-8", "replace")})
            version = request.query_params.get("api-version")
            if not version:
                raise AzureError(404, "404", "Resource not found")
            if version not in API_VERSIONS:
                raise AzureError(400, "BadRequest", "API version not supported")
            key = _checked_key(request)
            deployment = request.path_params["deployment"]
            if deployment not in DEPLOYMENTS:
                raise AzureError(404, "DeploymentNotFound", "The API deployment for this resource does not exist. If "
                                 "you created the deployment within the last 5 minutes, please wait a moment and try again.")
            if deployment.startswith("gpt-image") and version < GPT_IMAGE_SINCE:
                raise AzureError(400, "BadRequest", f"Model {deployment} is enabled only for api versions "
                                                    f"{GPT_IMAGE_SINCE} and later")
            if not isinstance(body, dict):
                raise AzureError(400, "BadRequest", "The request body is not valid JSON.")
            prompt = body.get("prompt") if isinstance(body.get("prompt"), str) else None
            directives = read_directives(request.headers, prompt)
            deadline = state.deadline(directives.latency_ms)
            error = _fault(directives.fault)
            if error is not None:
                raise error
            if body.get("output_format") == "webp":
                raise ApiError(400, "Invalid value: 'webp'. Supported values are: 'png' and 'jpeg'.",
                               param="output_format", code="invalid_value")
            body = {**body, "model": deployment}  # the path names the deployment; a body's model is ignored
            call = Call(request, body, {}, directives.fault, directives.clean_prompt, key, request_id,
                        directives.latency_ms, COMPAT, state.current_date())
            response = await images_generations(state, call)
        except (AzureError, ApiError) as err:
            response = err.response()
        except SchemaViolation as err:  # the OpenAI request schema's checks, in the same envelope
            response = ApiError(400, err.message, param=err.param, code=err.code).response()
        if deadline is not None:
            await state.wait_until(deadline)
        response.headers["apim-request-id"] = request_id
        return response

    return [Route(PREFIX + "/openai/deployments/{deployment}/images/generations", generations, methods=["POST"])]
