"""The vendored schema subset is a faithful cut of OpenAI's published spec."""
import json

import pytest

from tests.emulator.conftest import FULL_SPEC_PATH, SPEC_PATH


def test_subset_matches_the_published_spec():
    if not FULL_SPEC_PATH.exists():
        pytest.skip(f"the full spec is not beside the repository ({FULL_SPEC_PATH})")
    full = json.loads(FULL_SPEC_PATH.read_text())["components"]["schemas"]
    subset = json.loads(SPEC_PATH.read_text())["components"]["schemas"]
    assert len(subset) >= 9
    for name, schema in subset.items():
        assert full[name] == schema, f"{name} differs from the published spec"


def test_the_emulators_request_schemas_are_a_faithful_cut():
    """emulator/openai_request_schemas.json: the request roots and everything they reference, unchanged."""
    if not FULL_SPEC_PATH.exists():
        pytest.skip(f"the full spec is not beside the repository ({FULL_SPEC_PATH})")
    from emulator.openai_schema import SCHEMAS_PATH

    full = json.loads(FULL_SPEC_PATH.read_text())["components"]["schemas"]
    vendored = json.loads(SCHEMAS_PATH.read_text())
    cut = vendored["components"]["schemas"]
    for name, schema in cut.items():
        assert full[name] == schema, f"{name} differs from the published spec"
    referenced = set()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                referenced.add(node["$ref"].rsplit("/", 1)[-1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(cut)
    assert referenced <= set(cut) and set(vendored["info"]["roots"]) <= set(cut)


def test_the_schemathesis_operations_are_a_faithful_cut():
    """openai_spec_operations.json: the served operations (without x-oaiMeta) and their components, unchanged."""
    if not FULL_SPEC_PATH.exists():
        pytest.skip(f"the full spec is not beside the repository ({FULL_SPEC_PATH})")
    full = json.loads(FULL_SPEC_PATH.read_text())
    cut = json.loads((SPEC_PATH.parent / "openai_spec_operations.json").read_text())
    for path, operations in cut["paths"].items():
        for method, operation in operations.items():
            published = {k: v for k, v in full["paths"][path][method].items() if k != "x-oaiMeta"}
            assert operation == published, f"{method.upper()} {path} differs from the published spec"
    for kind, entries in cut["components"].items():
        for name, value in entries.items():
            assert full["components"][kind][name] == value, f"{kind}/{name} differs from the published spec"
