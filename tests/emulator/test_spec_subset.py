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
