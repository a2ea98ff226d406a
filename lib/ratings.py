"""Ratings from Compare votes: a Bradley–Terry model with bootstrap 95 % intervals, as public arena leaderboards do.

Each vote judged one prompt of one comparison; every target in it took part.
The winner beat each other target once; a tie or "both bad" is half a win each
way between every pair (arenas count "both bad" as a tie: neither was better).
Only the latest vote per (comparison, prompt) counts.  The model gives every
target a strength p with P(i beats j) = p_i / (p_i + p_j), fitted by Hunter's
MM algorithm; a virtual opponent of strength 1 that each target beat and lost
to half a time keeps a target with no losses (or no wins) finite.  Ratings are
on the Elo scale: 1000 + 400·log10(p).  The interval comes from refitting on
votes resampled with replacement (a fixed seed, so a page shows the same
figures on every rerun).
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

TIE, BOTH_BAD = "tie", "both bad"
BOOTSTRAP_ROUNDS = 200
SMOOTHING = 0.5  # half a win and half a loss against the virtual average opponent
MIN_VOTES_FOR_INTERVAL = 5  # fewer votes resample into the same few: an interval from them would look falsely sure
COLUMNS = ["target", "rating", "low", "high", "votes", "win_rate"]


def _targets(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return [t.strip() for t in value.split(",") if t.strip()]
    return [str(t) for t in (value if isinstance(value, (list, tuple)) else [value] if value else [])]


def latest_votes(votes: pd.DataFrame) -> pd.DataFrame:
    """One vote per (comparison, prompt): the latest."""
    if votes is None or votes.empty:
        return pd.DataFrame(columns=["group_id", "prompt", "winner", "targets"])
    votes = votes.copy()
    if "created_at" in votes.columns:
        votes = votes.sort_values("created_at", kind="stable")
    if {"group_id", "prompt"} <= set(votes.columns):
        votes = votes.drop_duplicates(["group_id", "prompt"], keep="last")
    return votes.reset_index(drop=True)


def _pairs(votes: pd.DataFrame) -> list[list[tuple[str, str, float]]]:
    """Per vote, its (a, b, wins of a over b) entries."""
    out = []
    for winner, targets in zip(votes["winner"], votes["targets"]):
        names = list(dict.fromkeys(_targets(targets)))
        entries = []
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if winner == a:
                    entries.append((a, b, 1.0))
                elif winner == b:
                    entries.append((b, a, 1.0))
                elif winner in (TIE, BOTH_BAD) or winner not in names:
                    entries.append((a, b, 0.5))
                    entries.append((b, a, 0.5))
                else:  # a third target won: a and b tell nothing about each other
                    continue
        out.append(entries)
    return out


def fit(entries: list[tuple[str, str, float]], names: list[str], iterations: int = 200) -> np.ndarray:
    """Bradley–Terry strengths (geometric mean 1) for ``names`` from (winner, loser, weight) entries."""
    index = {n: i for i, n in enumerate(names)}
    k = len(names)
    wins = np.zeros((k, k))
    for a, b, w in entries:
        wins[index[a], index[b]] += w
    games = wins + wins.T
    total_wins = wins.sum(axis=1) + SMOOTHING
    p = np.ones(k)
    for _ in range(iterations):
        denom = (games / (p[:, None] + p[None, :])).sum(axis=1) + 2 * SMOOTHING / (p + 1.0)
        updated = total_wins / denom
        updated /= np.exp(np.mean(np.log(updated)))
        if np.max(np.abs(updated - p)) < 1e-10:
            p = updated
            break
        p = updated
    return p


def bradley_terry(votes: pd.DataFrame, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> pd.DataFrame:
    """Rating, 95 % interval (low, high), votes and raw win rate per target; best first."""
    votes = latest_votes(votes)
    if votes.empty:
        return pd.DataFrame(columns=COLUMNS)
    per_vote = _pairs(votes)
    names = sorted({t for targets in votes["targets"] for t in _targets(targets)})
    if not names:
        return pd.DataFrame(columns=COLUMNS)
    flat = [e for entries in per_vote for e in entries]
    ratings = 1000 + 400 * np.log10(fit(flat, names))
    rng = np.random.default_rng(seed)
    samples = np.full((rounds, len(names)), np.nan)
    index = {n: i for i, n in enumerate(names)}
    for r in range(rounds):
        chosen = rng.integers(0, len(per_vote), len(per_vote))
        entries = [e for c in chosen for e in per_vote[c]]
        present = sorted({n for a, b, _w in entries for n in (a, b)})
        if len(present) < 2:
            continue
        fitted = 1000 + 400 * np.log10(fit(entries, present))
        for name, value in zip(present, fitted):
            samples[r, index[name]] = value
    with np.errstate(all="ignore"):
        low = np.nanpercentile(samples, 2.5, axis=0) if rounds else ratings
        high = np.nanpercentile(samples, 97.5, axis=0) if rounds else ratings
    counts = {n: 0 for n in names}
    scores = {n: 0.0 for n in names}
    for winner, targets in zip(votes["winner"], votes["targets"]):
        for t in set(_targets(targets)):
            counts[t] += 1
            scores[t] += 1.0 if winner == t else 0.5 if winner == TIE else 0.0
    thin = np.array([counts[n] < MIN_VOTES_FOR_INTERVAL for n in names])
    low, high = np.where(thin, np.nan, low), np.where(thin, np.nan, high)
    frame = pd.DataFrame({
        "target": names, "rating": np.round(ratings, 1), "low": np.round(low, 1), "high": np.round(high, 1),
        "votes": [counts[n] for n in names], "win_rate": [scores[n] / counts[n] if counts[n] else np.nan for n in names],
    })
    return frame.sort_values(["rating", "votes"], ascending=[False, False], kind="stable").reset_index(drop=True)


def group_labels(votes: pd.DataFrame) -> dict[str, str]:
    """A name for each comparison that has votes: when it was and its first prompt."""
    labels = {}
    if votes is None or votes.empty:
        return labels
    for group_id, part in votes.sort_values("created_at", kind="stable").groupby("group_id", sort=False):
        first = part.iloc[0]
        when = first["created_at"].strftime("%Y-%m-%d %H:%M") if hasattr(first["created_at"], "strftime") else ""
        prompt = str(first["prompt"] or "")[:40]
        labels[group_id] = f"{when} · {prompt}" + (f" (+{part['prompt'].nunique() - 1} prompts)"
                                                   if part["prompt"].nunique() > 1 else "")
    return labels


def select(votes: pd.DataFrame, groups: list[str] | None = None, text: str | None = None) -> pd.DataFrame:
    """The votes of the chosen comparisons and/or whose prompt contains ``text`` (case-insensitive)."""
    if votes is None or votes.empty:
        return votes
    chosen = votes
    if groups:
        chosen = chosen[chosen["group_id"].isin(groups)]
    if text and text.strip():
        chosen = chosen[chosen["prompt"].fillna("").str.contains(text.strip(), case=False, regex=False)]
    return chosen
