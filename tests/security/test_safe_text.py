"""Untrusted text on Markdown surfaces: shown as written, never an image; chat replies keep Markdown, lose images."""
from __future__ import annotations

import html
import random
import re

import pytest
from markdown_it import MarkdownIt

from lib.ui.safe_text import chat_markdown, has_remote_content, md_literal

RENDER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
PIECES = list("ab 1.)\\`*_[]()<>!#+-=|~$&:;\n") + ["http://canary.invalid/x.png", "&lt;", "&#91;", "![", "```",
                                                    "---", ":red[", "<img src=x>", "    ", "\t"]


def rendered_tags(markdown: str) -> set[str]:
    return set(re.findall(r"<([a-z0-9]+)", RENDER.render(markdown)))


def visible_text(markdown: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", RENDER.render(markdown)))).strip()


def random_texts(count: int, seed: int):
    rng = random.Random(seed)
    for _ in range(count):
        yield "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30)))


def test_literal_text_renders_as_written_and_draws_nothing(tally):
    tried = held = 0
    for text in random_texts(3000, seed=10):
        tried += 1
        tags = rendered_tags(md_literal(text))
        same = visible_text(md_literal(text)) == re.sub(r"\s+", " ", text).strip()
        held += tags <= {"p", "br", "pre", "code"} and same
    tally(tried, held, "random")  # Markdown-ish texts that rendered as plain text exactly as written
    assert held == tried


@pytest.mark.parametrize("text", [
    "a cat ![x](http://canary.invalid/x.png)", "<img src=http://canary.invalid/x.png>", ":red[red] **bold** $x^2$",
    "# heading\n> quote\n- item\n1. first\n===", "STUDIO_DATA_DIR and snake_case_words", "salt & pepper &amp; &#91;",
])
def test_literal_examples(text):
    assert not has_remote_content(md_literal(text))
    assert visible_text(md_literal(text)) == re.sub(r"\s+", " ", text).strip()


def test_everyday_text_is_left_alone():
    sentence = "Width 1000 is not a multiple of 16: use 992 or 1008. A lighthouse, at dusk (oil); 50% off."
    assert md_literal(sentence) == sentence


@pytest.mark.parametrize("reply", [
    "Here: ![cat](http://canary.invalid/leak?q=the+conversation)",
    "![ref][r]\n\n[r]: http://canary.invalid/ref.png",
    "![r]\n\n[r]: http://canary.invalid/shortcut.png",
    "![[nested]](http://canary.invalid/nested.png)",
    "![x](<http://canary.invalid/a b.png> \"title\")",
    "- item\n  ```\n  ![x](http://canary.invalid/in-list-fence.png)\n  ```",
    "```\n![x](http://canary.invalid/unclosed-fence.png)",
    "\\![escaped bang](http://canary.invalid/e.png) and \\\\![escaped backslash](http://canary.invalid/f.png)",
    "<img src=\"http://canary.invalid/raw.png\"> and <IMG SRC=x onerror=alert(1)>",
    "> quoted ![q](http://canary.invalid/q.png)",
])
def test_chat_reply_loses_every_image(reply):
    safe = chat_markdown(reply)
    assert not has_remote_content(safe)
    assert "<img" not in RENDER.render(safe).lower()


def test_chat_reply_keeps_its_markdown_and_code():
    reply = ("**Bold** and *it*, a [link](https://example.org), a list:\n\n- one\n- two\n\n"
             "```markdown\n![kept in code](http://example.org/x.png)\n```\n")
    assert chat_markdown(reply) == reply  # an image inside a closed code fence is code, not a picture
    tags = rendered_tags(chat_markdown(reply))
    assert {"strong", "em", "a", "ul", "pre"} <= tags and "img" not in tags
    assert chat_markdown("see ![a red fox](http://canary.invalid/fox.png)") == "see [image not shown: a red fox]"


def test_random_replies_never_keep_an_image(tally):
    tried = held = 0
    for text in random_texts(3000, seed=11):
        tried += 1
        held += not has_remote_content(chat_markdown(text))
    tally(tried, held, "random")  # replies that came out without an image or raw tag
    assert held == tried


def test_random_replies_without_image_syntax_keep_no_raw_tag(tally):
    """The quick reading (no "![" anywhere, a line scan for code fences) leaves no raw tag outside code either."""
    tried = held = 0
    for text in random_texts(3000, seed=12):
        text = text.replace("!", "")
        tried += 1
        held += not has_remote_content(chat_markdown(text))
    tally(tried, held, "random")
    assert held == tried
