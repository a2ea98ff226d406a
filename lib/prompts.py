"""Make a typed or pasted prompt safe to send: invisible control characters out, every change reported."""
from __future__ import annotations

import unicodedata

# Newlines and tabs are how people lay out long prompts; every other control character is noise from a
# paste (terminal colour codes, NULs, bells) that a provider may reject or silently mangle.
_KEEP = {"\n", "\t"}


def clean_prompt(text: str | None) -> tuple[str | None, list[str]]:
    """The prompt to send and a sentence for each change made to it (empty when nothing changed)."""
    if text is None:
        return None, []
    fixes = []
    normalised = unicodedata.normalize("NFC", text)
    cleaned = "".join(ch for ch in normalised if ch in _KEEP or unicodedata.category(ch) != "Cc")
    removed = len(normalised) - len(cleaned)
    if removed:
        fixes.append(f"Removed {removed} invisible control character{'s' if removed > 1 else ''} from the prompt.")
    stripped = cleaned.strip()
    if stripped != cleaned and removed:
        cleaned = stripped
    return cleaned, fixes
