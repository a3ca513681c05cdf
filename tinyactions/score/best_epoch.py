"""Which checkpoint a member (``tinyactions.score.member``) names: the one "best epoch" rule over a run's
dumped validation scores.

A member is written ``run@epoch`` with epoch an integer, ``best`` or ``last``. ``best`` is the dumped epoch
with the highest validation mAP (default) or F1 at 0.5: mAP is threshold-free, while F1 at 0.5 can peak in
the first epoch of an undertrained model that predicts the frequent classes at 0.5. Scores are aligned
on video ids, never on row order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from tinyactions.challenge import metrics
from tinyactions.challenge.annotations import SCORE_COLUMNS
from tinyactions.core.errors import SettingsError
from tinyactions.score.member import BEST_BY, Member


def split_matrix(table: pd.DataFrame, split: str, epoch: int, ids: list[str]) -> np.ndarray:
    """(len(ids), 26) scores of one epoch on one split, in the order of ``ids``; NaN for unreadable."""
    rows = table[(table["split"] == split) & (table["epoch"] == epoch)].set_index("id")
    missing = sorted(set(ids) - set(rows.index))
    if missing:
        raise KeyError(f"scores of {table['run'].iloc[0]}@{epoch} lack {split} ids {missing[:5]}")
    return rows.loc[ids, list(SCORE_COLUMNS)].to_numpy(np.float64)


def epoch_score(scores: np.ndarray, labels: np.ndarray, by: str) -> float:
    """What ``best`` maximises, for one checkpoint's (videos, classes) val scores: ``mAP`` (over classes
    with positives) or ``f1`` (the mean F1 at 0.5 over the classes with positives). Unreadable videos (NaN)
    count as scored 0."""
    if by not in BEST_BY:
        raise ValueError(f"best_by must be one of {BEST_BY}, got {by!r}")
    scores = np.nan_to_num(scores)
    if by == "mAP":
        return float(np.nanmean(metrics.average_precision(labels, scores)))
    return metrics.per_class(labels, (scores >= 0.5).astype(int)).macro_f1_present


def per_epoch(table: pd.DataFrame, val_ids: list[str], val_labels: np.ndarray, by: str) -> dict[int, float]:
    """:func:`epoch_score` of every dumped epoch of a run's score table."""
    return {
        int(e): epoch_score(split_matrix(table, "val", int(e), val_ids), val_labels, by)
        for e in sorted(table["epoch"].unique())
    }


def resolve(
    member: Member, table: pd.DataFrame, val_ids: list[str], val_labels: np.ndarray, best_by: str, key: str
) -> int:
    """The epoch of one member on its own (a run's best epoch, its last, or a number)."""
    epochs = sorted(int(e) for e in table["epoch"].unique())
    return resolve_members(
        [member], {member.run: epochs}, lambda run: per_epoch(table, val_ids, val_labels, best_by), key
    )[0]


def resolve_members(
    members: list[Member],
    epochs: dict[str, list[int]],
    score: Callable[[str], dict[int, float]],
    key: str = "ensemble.members",
) -> list[int]:
    """The epoch of every member, distinct within its run: the paper averages checkpoints "trained at
    different epochs". ``epochs``: the dumped epochs of each run; ``score(run)``: the val score of each
    of its epochs (asked only for runs with a ``best`` member). Numbers are taken as written; then
    ``last`` is the latest epoch not yet taken, and ``best`` the best-scoring epoch not yet taken, so
    ``best`` and ``last`` never fall on one checkpoint (when the best epoch is the last, ``best`` is the
    runner-up), and a repeated ``best`` (``last``) is the next best (the one before): a run's k best
    epochs, for any epoch count. ``key``: the setting errors name."""
    out: list[int | None] = [None] * len(members)
    taken: dict[str, set[int]] = {}
    scored: dict[str, dict[int, float]] = {}
    for kind in ("number", "last", "best"):
        for i, member in enumerate(members):
            if (member.epoch if member.epoch in ("last", "best") else "number") != kind:
                continue
            used = taken.setdefault(member.run, set())
            free = [e for e in epochs[member.run] if e not in used]
            if kind == "number":
                epoch = int(member.epoch)
                if epoch not in free:
                    raise SettingsError(
                        f"{key}: {member}: epoch {epoch} was not dumped or is named twice (epochs {epochs[member.run]})"
                    )
            elif not free:
                raise SettingsError(f"{key}: {member}: every dumped epoch of {member.run} is already a member")
            elif kind == "last":
                epoch = free[-1]
            else:
                if member.run not in scored:
                    scored[member.run] = score(member.run)
                epoch = max(free, key=lambda e: (scored[member.run][e], e))
            used.add(epoch)
            out[i] = epoch
    return out
