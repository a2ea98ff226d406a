"""Prompt search through the trigram indexes (migration 011): the same rows as a plain "contains" over the
prompts, through inserts, settles and deletes, on both backends; and the index is what answers."""
from __future__ import annotations

import sqlite3

from lib.store.db import migrations
from lib.store.ledger import Ledger, LedgerRow, new_id, utc_now

PROMPTS = [
    ("A Red Fox in snow", None, None),
    ("a lighthouse at dusk", "A tall LIGHTHOUSE on a cliff at dusk, oil painting", None),
    ("100% off_sale banner", None, "no text"),
    ('say "hi" * now [latency:10]', None, None),
    ("한국어 고양이 그림", None, None),
    ("école d'été", None, "blurry FOXES"),
    ("back\\slash path", None, None),
    (None, None, None),
    ("fo", None, None),
]
NEEDLES = ["fox", "FOX", "red fox", "lighthouse on", "dusk", "100%", "0% o", "f_s", "_", "%", '"hi"', "* n", "[latency",
           "고양이", "어 고", "été", "d'é", "back\\sl", "\\", "fo", "x", "o", "nothing like it", "t a"]


def _contains(needle: str, row: tuple) -> bool:
    """What a person means: the text appears in a prompt (ASCII letters in any case)."""
    return any(needle.lower() in text.lower() for text in row if text)


def _rows(ledger, prompts) -> dict[str, tuple]:
    made = {}
    for prompt, revised, negative in prompts:
        row = LedgerRow(id=new_id(), created_at=utc_now(), page="generate", action="generate", provider="openai",
                        backend="demo", prompt=prompt, revised_prompt=revised, negative_prompt=negative)
        ledger.insert(row)
        made[row.id] = (prompt, revised, negative)
    return made


def _check(ledger, made: dict[str, tuple]) -> None:
    for needle in NEEDLES:
        expected = sorted(row_id for row_id, texts in made.items() if _contains(needle, texts))
        found = sorted(ledger.frame(text=needle, columns=["id"])["id"])
        assert found == expected, needle
        assert ledger.count(text=needle) == len(expected), needle
        totals = ledger.daily_totals(text=needle)
        assert int(totals["calls"].sum()) == len(expected), needle


def test_search_finds_what_the_prompts_contain_through_inserts_settles_and_deletes(ledger):
    made = _rows(ledger, PROMPTS)
    _check(ledger, made)
    # a pending call settled with another prompt (record_call rewrites the row) is found by its new words only
    pending = LedgerRow(id=new_id(), created_at=utc_now(), page="generate", action="generate", provider="openai",
                        backend="demo", prompt="a pending whale")
    ledger.begin(pending)
    made[pending.id] = ("a pending whale", None, None)
    _check(ledger, made)
    ledger.settle(LedgerRow(**{**pending.__dict__, "status": "ok", "prompt": "a settled narwhal",
                               "revised_prompt": "A NARWHAL under ice"}))
    made[pending.id] = ("a settled narwhal", "A NARWHAL under ice", None)
    assert ledger.count(text="whale") == 0 and ledger.count(text="narwhal") == 1
    gone = [row_id for row_id, texts in made.items() if _contains("fox", texts)]
    ledger.delete(gone)
    for row_id in gone:
        made.pop(row_id)
    _check(ledger, made)
    assert ledger.count(text="fox") == 0


def test_the_trigram_index_answers_a_search_of_three_characters_or_more(ledger):
    _rows(ledger, PROMPTS)
    where, params = ledger._where(text="lighthouse")
    sql = f"SELECT COUNT(*) FROM calls{where}"
    if ledger.db.sqlite:
        plan = " ".join(str(step[-1]) for step in ledger.db.fetchall("EXPLAIN QUERY PLAN " + sql, params))
        assert "calls_search VIRTUAL TABLE" in plan, plan
        short = ledger._where(text="li")[0]
        assert "calls_search" not in short  # no trigram in two characters: a scan, still correct (see above)
    else:
        with ledger.db.read() as conn:  # a few rows: the planner would scan them anyway, so ask what it can use
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + ledger.db.q(sql), tuple(params)))
            conn.rollback()
        assert "calls_prompt_trgm" in plan, plan


def test_rows_written_before_the_index_existed_are_found_after_the_upgrade(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    before = [m for m in migrations() if m[0] < 11]
    with sqlite3.connect(path) as conn:  # a ledger as the previous version left it (schema 10), with rows
        for number, _name, sql in before:
            conn.executescript(sql)
            conn.execute(f"PRAGMA user_version = {number}")
        for i, prompt in enumerate(["an old red fox", "an old whale", None]):
            conn.execute("INSERT INTO calls (id, created_at, page, action, provider, backend, status, cost_source, prompt) "
                         "VALUES (?, ?, 'generate', 'generate', 'openai', 'demo', 'ok', 'unpriced', ?)",
                         (f"old-{i}", utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"), prompt))
    upgraded = Ledger(path)
    assert upgraded.schema_version == len(migrations()) >= 11
    assert list(upgraded.frame(text="RED FOX", columns=["id"])["id"]) == ["old-0"]
    assert upgraded.count(text="old") == 2
    upgraded.close()
