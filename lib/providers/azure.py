"""Azure OpenAI's two ways to be reached by the OpenAI-compatible engine (../shared/reference/azure-openai-images-api.md).

- the v1 path, ``https://{resource}.openai.azure.com/openai/v1``: the plain OpenAI client, the model is the
  deployment's name, the key also in ``api-key``;
- the deployment form, ``https://{resource}.openai.azure.com/openai/deployments/{deployment}/images/generations
  ?api-version=…`` (as Azure's portal shows it; ``/images/...`` may be left out): the openai SDK's ``AzureOpenAI``
  client with that deployment and api-version, the key in ``api-key``.  The form is read from the path, so a
  gateway in front of Azure (another host, the same paths) works too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

AZURE_HOSTS = (".openai.azure.com", ".services.ai.azure.com")
IMAGE_API_VERSION = "2025-04-01-preview"  # the first data-plane version with the GPT-image models
_DEPLOYMENT_PATH = re.compile(r"^(?P<prefix>.*?)/openai/deployments/(?P<name>[^/]+)(?:/images(?:/generations|/edits)?)?/*$")


@dataclass(frozen=True)
class Deployment:
    """A deployment-form base URL, taken apart."""

    endpoint: str  # scheme://host[:port][/gateway prefix], everything before /openai/
    name: str
    api_version: str | None

    @property
    def base_url(self) -> str:
        """What ``AzureOpenAI`` is given: it adds ``/images/generations`` and ``?api-version=`` itself."""
        return f"{self.endpoint}/openai/deployments/{self.name}"


def is_azure(base_url: str) -> bool:
    host = (urlparse(base_url).hostname or "").lower()
    return host.endswith(AZURE_HOSTS)


def deployment(base_url: str | None) -> Deployment | None:
    """The deployment a deployment-form URL names, or ``None`` for any other base URL."""
    parsed = urlparse(base_url or "")
    found = _DEPLOYMENT_PATH.match(parsed.path or "")
    if not found or parsed.scheme not in ("http", "https") or not parsed.netloc:
        return None
    versions = parse_qs(parsed.query).get("api-version") or [None]
    return Deployment(f"{parsed.scheme}://{parsed.netloc}{found['prefix']}", found["name"], versions[0] or None)


def url_problem(base_url: str) -> str | None:
    """What to change in an Azure base URL this app cannot use, or ``None``."""
    found = deployment(base_url)
    if found is not None:
        if not found.api_version:
            return (f"This Azure deployment URL has no api-version: add ?api-version={IMAGE_API_VERSION} to "
                    "OPENAI_COMPAT_BASE_URL (Azure needs one on deployment URLs).")
        return None
    path = (urlparse(base_url).path or "").rstrip("/")
    host = urlparse(base_url).hostname
    if is_azure(base_url) and "/openai/v1/" in path + "/" and not path.endswith("/openai/v1"):
        return (f"Set OPENAI_COMPAT_BASE_URL to https://{host}/openai/v1 itself: this app adds "
                "/images/generations (and the rest) to it.")
    if is_azure(base_url) and "/openai/v1" not in path:
        return (f"For Azure OpenAI set OPENAI_COMPAT_BASE_URL to https://{host}/openai/v1 (the model is then your "
                f"deployment's name), or to a deployment URL such as https://{host}/openai/deployments/"
                f"<deployment>/images/generations?api-version={IMAGE_API_VERSION}.")
    return None


def client(cfg, found: Deployment, **options):
    """An ``AzureOpenAI`` client for one deployment; ``options`` as for ``openai.OpenAI`` (timeout, retries...)."""
    import openai

    return openai.AzureOpenAI(base_url=found.base_url, api_version=found.api_version or IMAGE_API_VERSION,
                              api_key=cfg.key or "missing", **options)
