"""Ensembles of (run, epoch) members: score averaging joined by video id, and greedy member selection.

A member is written ``run@epoch`` with epoch an integer, ``best`` or ``last``. ``best`` is the dumped epoch
with the highest validation mAP (default) or F1 at 0.5: mAP is threshold-free, while F1 at 0.5 can peak in
the first epoch of an undertrained model that predicts the frequent classes at 0.5. Scores are aligned
on video ids, never on row order.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics, thresholds
from .annotations import SCORE_COLUMNS
from .settings import BEST_BY, Member, SettingsError


def split_matrix(table: pd.DataFrame, split: str, epoch: int, ids: list[str]) -> np.ndarray:
    """(len(ids), 26) scores of one epoch on one split, in the order of ``ids``; NaN for unreadable."""
    rows = table[(table["split"] == split) & (table["epoch"] == epoch)].set_index("id")
    missing = sorted(set(ids) - set(rows.index))
    if missing:
        raise KeyError(f"scores of {table['run'].iloc[0]}@{epoch} lack {split} ids {missing[:5]}")
    return rows.loc[ids, list(SCORE_COLUMNS)].to_numpy(np.float64)


def per_epoch(table: pd.DataFrame, val_ids: list[str], val_labels: np.ndarray, by: str) -> dict[int, float]:
    """Validation score of every dumped epoch: ``mAP`` (over classes with positives) or ``f1`` (macro F1
    at 0.5)."""
    if by not in BEST_BY:
        raise ValueError(f"best_by must be one of {BEST_BY}, got {by!r}")
    out = {}
    for epoch in sorted(table["epoch"].unique()):
        scores = np.nan_to_num(split_matrix(table, "val", int(epoch), val_ids))
        if by == "mAP":
            out[int(epoch)] = float(np.nanmean(metrics.average_precision(val_labels, scores)))
        else:
            out[int(epoch)] = metrics.per_class(val_labels, (scores >= 0.5).astype(int)).macro_f1
    return out


def resolve(member: Member, table: pd.DataFrame, val_ids: list[str], val_labels: np.ndarray,
            best_by: str = "mAP") -> int:
    """The epoch of one member on its own (a run's best epoch, its last, or a number)."""
    return resolve_members([member], {member.run: table}, val_ids, val_labels, best_by)[0]


def resolve_members(members: list[Member], tables: dict[str, pd.DataFrame], val_ids: list[str],
                    val_labels: np.ndarray, best_by: str) -> list[int]:
    """The epoch of every member, distinct within its run: the seed averages checkpoints "trained at
    different epochs". Numbers are taken as written; then ``last`` is the latest epoch no number names,
    and ``best`` the best-scoring epoch not yet taken, so ``best`` and ``last`` never fall on one
    checkpoint (when the best epoch is the last, ``best`` is the runner-up)."""
    out: list[int | None] = [None] * len(members)
    taken: dict[str, set[int]] = {}
    for kind in ("number", "last", "best"):
        for i, member in enumerate(members):
            if (member.epoch if member.epoch in ("last", "best") else "number") != kind:
                continue
            table, used = tables[member.run], taken.setdefault(member.run, set())
            epochs = sorted(int(e) for e in table["epoch"].unique())
            free = [e for e in epochs if e not in used]
            if kind == "number":
                epoch = int(member.epoch)
                if epoch not in free:
                    raise SettingsError(f"ensemble.members: {member}: epoch {epoch} was not dumped or is named twice "
                                        f"(epochs {epochs})")
            elif not free:
                raise SettingsError(f"ensemble.members: {member}: every dumped epoch of {member.run} is already a member")
            elif kind == "last":
                epoch = free[-1]
            else:
                score = per_epoch(table, val_ids, val_labels, best_by)
                epoch = max(free, key=lambda e: (score[e], e))
            used.add(epoch)
            out[i] = epoch
    return out


def average(matrices: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """Weighted mean of member score matrices; an unreadable video (NaN in every member) stays NaN."""
    weights = np.ones(len(matrices)) if weights is None else np.asarray(weights, float)
    if len(weights) != len(matrices) or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("ensemble weights must be one non-negative number per member, not all zero")
    stack = np.stack(matrices)
    return np.tensordot(weights / weights.sum(), stack, axes=1)


def greedy_select(candidates: dict[str, np.ndarray], labels: np.ndarray, config: thresholds.ThresholdConfig,
                  max_members: int = 12, folds: int = 5, seed: int = 0,
                  train_frequency: np.ndarray | None = None) -> list[str]:
    """Forward selection (with replacement) of members maximising the cross-validated macro F1 of
    the averaged scores with fitted thresholds; stops when no addition helps."""
    chosen: list[str] = []
    best = -1.0
    while len(chosen) < max_members:
        trial = {}
        for name in candidates:
            avg = average([candidates[m] for m in chosen + [name]])
            trial[name] = thresholds.cross_validated_f1(avg, labels, config, train_frequency, folds=folds, seed=seed)
        name = max(trial, key=lambda k: trial[k])
        if trial[name] <= best + 1e-9:
            break
        chosen.append(name)
        best = trial[name]
    return chosen
