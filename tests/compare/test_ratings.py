"""Bradley–Terry ratings with bootstrap intervals from Compare votes."""
from __future__ import annotations

import pandas as pd
import pytest

from lib.ratings import bradley_terry, group_labels, latest_votes, select


def votes(rows):
    return pd.DataFrame([{"created_at": pd.Timestamp("2026-12-01", tz="UTC") + pd.Timedelta(seconds=i), "group_id": g,
                          "prompt": p, "winner": w, "targets": t} for i, (g, p, w, t) in enumerate(rows)])


def test_the_engine_that_wins_more_rates_higher_and_its_interval_holds_its_rating():
    rows = []
    for i in range(30):  # A beats B 24 times in 30; C loses to both most of the time
        rows.append(("g1", f"p{i}", "A" if i % 5 else "B", ["A", "B"]))
        rows.append(("g2", f"p{i}", "B" if i % 4 else "C", ["B", "C"]))
    board = bradley_terry(votes(rows)).set_index("target")
    assert list(board.index) == ["A", "B", "C"]
    for name in "ABC":
        assert board.loc[name, "low"] <= board.loc[name, "rating"] <= board.loc[name, "high"]
    assert board.loc["A", "low"] > board.loc["C", "high"]  # far apart: the intervals do not overlap
    assert board.loc["A", "win_rate"] == pytest.approx(24 / 30) and board.loc["B", "votes"] == 60
    # P(A beats B) from the ratings is near the observed 0.8
    p = 1 / (1 + 10 ** ((board.loc["B", "rating"] - board.loc["A", "rating"]) / 400))
    assert 0.7 < p < 0.85


def test_ties_and_both_bad_pull_ratings_together_and_the_latest_vote_counts():
    board = bradley_terry(votes([("g", "p", "A", ["A", "B"]), ("g", "p", "tie", ["A", "B"]),
                                 ("g", "q", "both bad", ["A", "B"])])).set_index("target")
    assert board.loc["A", "rating"] == pytest.approx(board.loc["B", "rating"])  # the win on p was replaced by a tie
    assert len(latest_votes(votes([("g", "p", "A", ["A", "B"]), ("g", "p", "B", ["A", "B"])]))) == 1


def test_an_undefeated_target_stays_finite_and_too_few_votes_give_no_interval():
    board = bradley_terry(votes([("g", "p", "A", ["A", "B"])])).set_index("target")
    assert board["rating"].abs().max() < 2000 and board.loc["A", "rating"] > board.loc["B", "rating"]
    assert board["low"].isna().all() and board["high"].isna().all()  # one vote cannot say how sure it is
    few = bradley_terry(votes([("g", f"p{i}", "A", ["A", "B"]) for i in range(6)])).set_index("target")
    assert few.loc["A", "high"] - few.loc["A", "low"] >= 0 and not few["low"].isna().any()


def test_votes_can_be_narrowed_to_comparisons_or_prompts():
    frame = votes([("g1", "a red fox", "A", ["A", "B"]), ("g2", "an owl", "B", ["A", "B"])])
    assert list(select(frame, ["g2"])["prompt"]) == ["an owl"]
    assert list(select(frame, None, "FOX")["group_id"]) == ["g1"]
    assert set(group_labels(frame)) == {"g1", "g2"} and "a red fox" in group_labels(frame)["g1"]
    assert bradley_terry(select(frame, ["g1"])).iloc[0]["target"] == "A"
    assert bradley_terry(frame.iloc[0:0]).empty
