"""Done-when of issue 13: in demo mode with no keys, one Compare run puts GPT Image 2, Gemini, FLUX, Karlo and a
compatible server's DALL·E 3 side by side on one prompt: one ledger group, a priced row each."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from lib.store import open_store

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {"openai": "gpt-image-2", "gemini": "gemini-3-pro-image", "flux": "flux-2-pro", "karlo": "karlo-v2.1",
            "openai_compat": "dall-e-3"}


def test_one_compare_run_puts_every_engine_side_by_side_with_a_priced_row_each(studio_env):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=90)
    at.run()
    at.switch_page("pages/compare.py")
    at.run()
    assert not at.exception, at.exception
    targets = at.session_state["cmp_targets"]
    assert {t.provider: t.model for t in targets} == EXPECTED
    at.text_area(key="cmp_prompts").set_value("a lighthouse on a cliff at dusk")
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert not at.exception, at.exception
    run = at.session_state["cmp_shown"]["run"]
    assert [c.status for c in run.cells] == ["ok"] * len(EXPECTED), [(c.target.label, c.error) for c in run.cells]
    assert len(at.image) == len(EXPECTED)  # side by side, one picture each

    rows = open_store()[1].rows(group_id=run.group_id)
    assert sorted((r.provider, r.model) for r in rows) == sorted(EXPECTED.items())  # one group, one row per engine
    for row in rows:
        assert row.backend == "demo" and row.status == "ok" and row.output_refs
        assert row.cost_usd is not None and row.cost_source in ("computed", "table", "reported"), row.provider
    costs = {r.provider: r.cost_usd for r in rows}
    assert costs["openai_compat"] == 0.04 and costs["karlo"] == 0.0 and costs["flux"] == 0.03
    assert costs["gemini"] > 0.1 and costs["openai"] > 0
