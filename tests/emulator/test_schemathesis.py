"""An outside tool's verdict: Schemathesis drives OpenAI's published spec against both faces of the emulator.

The spec is a faithful cut of OpenAI's (``openai_spec_operations.json``: the operations served, checked against the
full spec by test_spec_subset.py).  Two things are adjusted when it is loaded, each for a stated reason:

- ``nullable: true`` (OpenAPI 3.0) sits in a document that says ``openapi: 3.1.0``, where tools ignore it; it is
  restated in 3.1 terms (the schema, or null), as the API means it — otherwise "null" counts as invalid input.
- Every operation runs against ``/v1`` except variations, which api.openai.com retired; the image operations
  (variations included) also run against ``/compat/v1``, the face that still serves DALL·E.

Phases: examples, coverage and fuzzing, positive and negative data, bounded by ``STUDIO_SCHEMATHESIS_EXAMPLES``
(default 25 per operation and phase).  Checks: not_a_server_error, response_schema_conformance and
negative_data_rejection.  Excluded cases, each with its reason, are in ``EXCLUDED`` below.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.specs.openapi.checks import negative_data_rejection  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

from tests.emulator.conftest import KEY  # noqa: E402

SPEC = Path(__file__).with_name("openai_spec_operations.json")
EXAMPLES = int(os.environ.get("STUDIO_SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = [not_a_server_error, response_schema_conformance, negative_data_rejection]


def _as_openapi_31(node):
    """``nullable: true`` restated as 3.1 JSON Schema: the same schema, or null."""
    if isinstance(node, list):
        return [_as_openapi_31(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _as_openapi_31(v) for k, v in node.items()}
    if out.pop("nullable", False):
        if "$ref" in out or "anyOf" in out or "oneOf" in out or "allOf" in out or "type" not in out:
            return {"anyOf": [out, {"type": "null"}]}
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = types + ["null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
    return out


def _load():
    raw = json.loads(SPEC.read_text())
    doc = _as_openapi_31(copy.deepcopy(raw))
    config = schemathesis.Config.from_dict({
        "seed": 20261201,
        "suppress-health-check": ["all"],
        # Deterministic: the same cases every run, and no example database written into the checkout.
        "generation": {"mode": "all", "max-examples": EXAMPLES, "no-shrink": True, "deterministic": True},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True, "unexpected-methods": []},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    })
    return schemathesis.openapi.from_dict(doc, config=config)


schema = _load()


def _call(case, base_url: str) -> None:
    case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, checks=CHECKS, timeout=60)


@pytest.mark.timeout(900)
@schema.exclude(path="/images/variations").parametrize()
def test_api_openai_com_face_passes_the_published_spec(case, emulator):
    _call(case, emulator.openai_base_url)


@pytest.mark.timeout(900)
@schema.include(path_regex="^/images/").parametrize()
def test_compatible_face_passes_the_published_spec(case, emulator):
    """Where DALL·E still answers, requests without a model (dall-e-2) succeed and their answers are checked too."""
    _call(case, emulator.compat_base_url)
