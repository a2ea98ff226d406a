"""Untrusted text on Markdown surfaces.

Streamlit draws Markdown almost everywhere: st.markdown, st.caption, alerts, toasts, spinners, widget labels
and help, expander/status/tab labels, image captions, segmented-control options. A prompt, a file name, a
revised prompt or a provider's error text put there as-is can draw a remote image, which every viewer's
browser then fetches (and a URL can carry conversation text away). Two ways to show such text:

- ``md_literal(text)``: the text exactly as written, every Markdown character escaped, for interpolating
  into any Markdown surface (prompts, file names, provider messages, ledger text).
- ``chat_markdown(text)``: a model's reply keeps its Markdown (lists, code, emphasis, links) but loses its
  images (inline, reference-style and raw ``<img>``): each becomes ``[image not shown: alt]``.
"""
from __future__ import annotations

import re
from functools import lru_cache

# Characters that make Markdown (or Streamlit's :color[...] directives and $math$) anywhere in a line, and
# those that do only at a line's start (headings, quotes, lists, setext underlines, ordered-list numbers).
# CommonMark lets a backslash escape any of them. Everything else (",.:;-" mid-line) is left alone.
_ANYWHERE = re.compile(r"([\\`*\[\]<~$|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))|&(?=[#A-Za-z])")  # a_b is no emphasis
_LINE_START = re.compile(r"^([ \t]*)(?:([#>+=-])|(\d+)([.)]))", re.MULTILINE)
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)  # kept as no-break spaces: an indented line is no code block
# Inline images whose alt text and target hold no brackets or parentheses: the shape models write.
_INLINE_IMAGE = re.compile(r"!\[([^\[\]\n]*)\]\(\s*<?[^()\s>]*>?(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)")
_IMAGE_OPENER = re.compile(r"!\[")
_TAG_OPENER = re.compile(r"<(?=[A-Za-z/!?])")


def md_literal(text: object) -> str:
    """``text`` as Markdown that renders as exactly that text: nothing drawn or fetched (a bare URL may show as a link)."""
    if text is None:
        return ""
    escaped = _ANYWHERE.sub(lambda m: "\\" + (m.group(1) or "&"), str(text))
    escaped = _LINE_START.sub(lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4)),
                              escaped)
    return _INDENT.sub(lambda m: m.group(0).replace("\t", "    ").replace(" ", "\u00a0"), escaped)


@lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt

    # CommonMark (+ tables) with raw HTML on: anything a permissive renderer could turn into an <img> shows up as a token.
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def _walk(tokens):
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def _read(markdown: str) -> tuple[bool, bool, set[int]]:
    """(has images, has raw HTML, lines of closed top-level code fences) of ``markdown`` as a GFM renderer reads it.

    Only a closed fence at the top level counts as code: every renderer agrees on those, while indented
    code and fences inside lists or quotes are read differently by different parsers.
    """
    images = html = False
    code_lines: set[int] = set()
    lines = markdown.split("\n")
    for token in _walk(_parser().parse(markdown)):
        images = images or token.type == "image"
        html = html or token.type in ("html_inline", "html_block")
        if token.type == "fence" and token.level == 0 and token.map:
            first, end = token.map
            if end - first >= 2 and lines[end - 1].strip().startswith(token.markup):
                code_lines.update(range(first, end))
    return images, html, code_lines


def has_remote_content(markdown: str) -> bool:
    """Whether a renderer would draw an image or a raw HTML tag from ``markdown``."""
    images, html, _ = _read(markdown)
    return images or html


def _outside_code(text: str, code_lines: set[int], pattern: re.Pattern, replacement) -> str:
    lines = text.split("\n")
    return "\n".join(line if i in code_lines else pattern.sub(replacement, line) for i, line in enumerate(lines))


def _image_words(match: re.Match) -> str:
    return f"[image not shown: {md_literal(match.group(1).strip()) or 'no description'}]"


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def _fenced_lines(text: str) -> set[int]:
    """Lines inside closed top-level code fences, found line by line (the cheap reading, for replies without
    an image: only raw tags are at stake there, which Streamlit does not render anyway)."""
    inside: set[int] = set()
    opener, start = None, 0
    for i, line in enumerate(text.split("\n")):
        match = _FENCE.match(line)
        if opener is None:
            if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
                opener, start = match.group(1), i
        elif match and match.group(1)[0] == opener[0] and len(match.group(1)) >= len(opener) and not match.group(2).strip():
            inside.update(range(start, i + 1))
            opener = None
    return inside


def chat_markdown(text: str | None) -> str:
    """A reply's Markdown with every image (and raw HTML tag) made inert; the rest, code fences included, as written."""
    text = text or ""
    if "![" not in text:
        # No image syntax at all (nearly every reply; this runs per streamed chunk): only raw tags, which
        # Streamlit leaves out, are made plain characters, found without a full Markdown parse.
        return _outside_code(text, _fenced_lines(text), _TAG_OPENER, "&lt;") if _TAG_OPENER.search(text) else text
    _, html, code_lines = _read(text)
    text = _outside_code(text, code_lines, _INLINE_IMAGE, _image_words)
    # reference-style, nested or odd shapes: outside code no "![" may open an image at all
    text = _outside_code(text, code_lines, _IMAGE_OPENER, r"!\\[")
    if html:  # Streamlit leaves raw HTML out anyway; written as the characters it is, it cannot become a tag
        text = _outside_code(text, code_lines, _TAG_OPENER, "&lt;")
    images, html, _ = _read(text)
    if images:  # a fence this parser closes and another might not: no exceptions then
        text = _IMAGE_OPENER.sub(r"!\\[", text)
    if html:
        text = _TAG_OPENER.sub("&lt;", text)
    return text
