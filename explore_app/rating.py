"""The leaderboard's arithmetic: capped per-user weights, a Bradley-Terry fit on the Elo scale and the
Wilson interval. Pure functions of their inputs (no database), so the numbers can be checked by hand.

Ratings
-------
Every model plays games, each with a weight:

- a *comparison* against another model: a regenerated answer of one model kept over a sibling answer of
  the other (a win for the kept one);
- a *vote* against PAR, a fixed opponent rated 1000: a thumbs up is a win over PAR, a thumbs down a loss;
- one virtual draw against PAR (half a win, half a loss): the starting rating, 1000, which a model
  without any data keeps and which keeps an unbeaten model's rating finite.

The ratings are the maximum-likelihood Bradley-Terry strengths `p` of these games (P(i beats j) =
p_i / (p_i + p_j), PAR's strength fixed at 1), written on the Elo scale: `elo = 1000 + 400·log10(p)`,
so a 400-point gap means 10:1 odds, as in chess. This is the rating a K-factor Elo (K=32) would hover
around if it saw the same games over and over; unlike sequential Elo it does not depend on the order
of the games, so recomputing always gives the same numbers. Fitted by Hunter's MM iteration
(updates of all models at once from the previous iterate, models in name order), to 1e-10.

Ballot stuffing
---------------
One account weighs at most `USER_PAIR_CAP` comparisons per pair of models and at most `USER_VOTE_CAP`
votes per model: beyond that, its results are scaled down in proportion (its split between the two
sides kept). A single account can therefore move a model's rating by no more than what 3 unanimous
comparisons against each other model and 3 votes would.

Win rate and confidence
-----------------------
`win_rate` is the (capped) weight of a model's comparison wins over the weight of its comparisons;
`confidence` is the 95 % Wilson score interval of that rate, with the capped weight as the number of
trials.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

START_RATING = 1000.0
ELO_SCALE = 400.0
PAR = ""  # the fixed opponent of votes and of the starting draw (no model is named "")
USER_PAIR_CAP = 3.0
USER_VOTE_CAP = 3.0
WILSON_Z = 1.959963984540054  # 95 %
TOLERANCE = 1e-10
MAX_ITERATIONS = 20_000


@dataclass
class Record:
    """What one model did in a period, weights capped per user."""

    wins: float = 0.0  # comparison wins (weighted)
    losses: float = 0.0  # comparison losses (weighted)
    comparisons: int = 0  # comparisons against other models (raw count)
    thumbs_up: int = 0  # raw counts
    thumbs_down: int = 0
    up_weight: float = 0.0
    down_weight: float = 0.0
    self_comparisons: int = 0  # same-model regenerations decided
    kept_earlier: int = 0  # of which the earlier answer was kept
    opponents: dict[str, float] = field(default_factory=dict)  # games (both ways) against each model


def capped(counts: Mapping[str, float], cap: float) -> dict[str, float]:
    """`counts` (one account's results, by outcome) scaled down so that they add up to at most `cap`."""
    total = sum(counts.values())
    scale = min(1.0, cap / total) if total else 0.0
    return {key: value * scale for key, value in counts.items()}


def tally(
    *,
    comparisons: Iterable[tuple[object, str, str, bool]],
    votes: Iterable[tuple[object, str, int, int]],
) -> dict[str, Record]:
    """Records per model name from `comparisons` (user, winner, loser, kept the earlier answer) and
    `votes` (user, model, ups, downs), each account's weight capped (see the module)."""
    records: dict[str, Record] = defaultdict(Record)
    # per (user, pair in name order): raw wins of each side
    pairs: dict[tuple[object, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for user, winner, loser, kept_earlier in comparisons:
        if winner == loser:
            records[winner].self_comparisons += 1
            records[winner].kept_earlier += int(kept_earlier)
            continue
        first, second = sorted((winner, loser))
        pairs[(user, first, second)][winner] += 1
        records[winner].comparisons += 1
        records[loser].comparisons += 1
    for (_user, first, second), wins in sorted(
        pairs.items(), key=lambda item: (str(item[0][0]), *item[0][1:])
    ):
        weighted = capped(wins, USER_PAIR_CAP)
        games = sum(weighted.values())
        for model, other in ((first, second), (second, first)):
            record = records[model]
            record.wins += weighted.get(model, 0.0)
            record.losses += weighted.get(other, 0.0)
            record.opponents[other] = record.opponents.get(other, 0.0) + games
    for _user, model, ups, downs in votes:
        if not ups and not downs:
            continue
        record = records[model]
        record.thumbs_up += ups
        record.thumbs_down += downs
        weighted = capped({"up": float(ups), "down": float(downs)}, USER_VOTE_CAP)
        record.up_weight += weighted["up"]
        record.down_weight += weighted["down"]
    return dict(records)


def fit_ratings(records: Mapping[str, Record]) -> dict[str, float]:
    """Elo-scale ratings of the models of `records` (see the module): deterministic and independent of
    the order of the games."""
    names = sorted(records)
    strength = dict.fromkeys(names, 1.0)
    # wins of each model: comparison wins, wins over PAR (thumbs up) and half of the virtual draw
    wins = {name: records[name].wins + records[name].up_weight + 0.5 for name in names}
    # games against PAR: the votes and the virtual draw
    par_games = {name: records[name].up_weight + records[name].down_weight + 1.0 for name in names}
    for _ in range(MAX_ITERATIONS):
        updated = {}
        for name in names:
            record = records[name]
            denominator = par_games[name] / (strength[name] + 1.0)
            for other, games in sorted(record.opponents.items()):
                denominator += games / (strength[name] + strength[other])
            updated[name] = wins[name] / denominator
        change = max((abs(math.log(updated[n] / strength[n])) for n in names), default=0.0)
        strength = updated
        if change < TOLERANCE:
            break
    return {name: START_RATING + ELO_SCALE * math.log10(strength[name]) for name in names}


def wilson_interval(successes: float, trials: float, z: float = WILSON_Z) -> tuple[float, float] | None:
    """The Wilson score interval of a rate of `successes` in `trials` (None without trials)."""
    if trials <= 0:
        return None
    rate = successes / trials
    denominator = 1 + z * z / trials
    centre = (rate + z * z / (2 * trials)) / denominator
    margin = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)
