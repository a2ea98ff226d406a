"""Fixtures for the emulator's OpenAI side: the published OpenAPI spec as a validator, SDK and HTTP clients."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import openai
import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# The schemas we validate against, cut from OpenAI's published spec (3 MB, kept beside the repository in
# ../shared/reference) so the contract tests run wherever the repository does; test_spec_subset.py checks
# the cut against the full spec when it is there.
SPEC_PATH = Path(__file__).resolve().parent / "openai_spec_subset.json"
# ../shared beside the checkout (/work/main) or beside the worktrees' folder (/work/wt/<name>).
FULL_SPEC_PATH = next((p / "shared" / "reference" / "openai-openapi.json" for p in Path(__file__).resolve().parents[3:5]
                       if (p / "shared" / "reference" / "openai-openapi.json").exists()),
                      Path(__file__).resolve().parents[3] / "shared" / "reference" / "openai-openapi.json")
KEY = "sk-test-emulator-key-7890"


def _allow_null(node):
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema: the same schema, or null."""
    if isinstance(node, list):
        return [_allow_null(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _allow_null(v) for k, v in node.items()}
    if out.pop("nullable", False):
        return {"anyOf": [out, {"type": "null"}]}
    return out


class Spec:
    """Validate a response against a named schema of OpenAI's published spec."""

    def __init__(self, path: Path):
        raw = json.loads(path.read_text())
        self.doc = {"components": {"schemas": _allow_null(copy.deepcopy(raw["components"]["schemas"]))}}
        resource = Resource(contents=self.doc, specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:openai", resource)
        self._validators: dict[str, Draft202012Validator] = {}

    def validate(self, instance, name: str) -> None:
        if name not in self._validators:
            assert name in self.doc["components"]["schemas"], f"no schema {name} in the spec"
            schema = {"$ref": f"urn:openai#/components/schemas/{name}"}
            self._validators[name] = Draft202012Validator(schema, registry=self.registry)
        errors = sorted(self._validators[name].iter_errors(instance), key=lambda e: list(e.path))
        assert not errors, f"{name}: " + "; ".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])


@pytest.fixture(scope="session")
def spec():
    return Spec(SPEC_PATH)


@pytest.fixture(scope="session")
def client(emulator):
    return openai.OpenAI(api_key=KEY, base_url=emulator.openai_base_url, max_retries=0, timeout=20)


class Http:
    """Plain requests against the emulator's /v1, with a key unless told otherwise."""

    def __init__(self, base: str):
        self.base = base

    def headers(self, key: str | None = KEY, fault: str | None = None) -> dict:
        h = {}
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        if fault:
            h["X-Emulator-Fault"] = fault
        return h

    def get(self, path: str, key: str | None = KEY, fault: str | None = None):
        return requests.get(self.base + path, headers=self.headers(key, fault), timeout=20)

    def post(self, path: str, key: str | None = KEY, fault: str | None = None, headers: dict | None = None, **kwargs):
        return requests.post(self.base + path, headers={**self.headers(key, fault), **(headers or {})}, timeout=20,
                             **kwargs)


@pytest.fixture(scope="session")
def http(emulator):
    return Http(emulator.openai_base_url)


@pytest.fixture(scope="session")
def compat_client(emulator):
    """The SDK against /compat/v1: an OpenAI-compatible server that still speaks DALL·E."""
    return openai.OpenAI(api_key=KEY, base_url=emulator.compat_base_url, max_retries=0, timeout=20)


@pytest.fixture(scope="session")
def compat_http(emulator):
    return Http(emulator.compat_base_url)
