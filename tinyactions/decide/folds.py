"""Cross-validation folds over val: grouped by source video, balanced over labels.

TinyVIRAT clips cluster by the surveillance video they were cut from (``video_id``): clips of one scene
share background, camera and often people. Folds drawn per clip put one scene on both sides, so the
held-out fold is not held out. Here every source video lies in one fold, and the folds are filled class by
class (iterative stratification over groups): source videos are taken rarest class first (larger ones
first among equals) and each goes to the fold that still lacks most of its positives, a positive of a
class weighted by 1 / that class's total, then to the fold with the fewest clips; the seed breaks
remaining ties. Rare classes, the ones thresholds struggle with, get spread over the folds.
"""

from __future__ import annotations

import numpy as np


def grouped_folds(labels: np.ndarray, groups, folds: int, seed: int) -> np.ndarray:
    """A fold index (0..k-1) per video, every group (source video) in one fold. ``k`` is ``folds``, or
    the number of groups when there are fewer."""
    labels = np.asarray(labels).astype(np.int64)
    _, group_of = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = int(group_of.max()) + 1 if len(group_of) else 0
    k = min(folds, n_groups)
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 source videos, got {n_groups}")
    counts = np.zeros((n_groups, labels.shape[1]), np.int64)
    np.add.at(counts, group_of, labels)
    sizes = np.bincount(group_of, minlength=n_groups)
    totals = counts.sum(0)
    # each group's rarest class present (a group without labels: after every class)
    rarity = np.where(counts > 0, totals[None, :], np.iinfo(np.int64).max)
    key_rarity = rarity.min(1)
    tiebreak = np.random.default_rng(seed).permutation(n_groups)
    order = np.lexsort((tiebreak, -sizes, key_rarity))
    held = np.zeros((k, labels.shape[1]), np.int64)
    clips = np.zeros(k, np.int64)
    fold_of_group = np.empty(n_groups, np.int64)
    fold_rank = np.random.default_rng(seed + 1).permutation(k)  # ties between folds
    weight = 1.0 / np.maximum(totals, 1)  # a positive of a rare class weighs more
    for g in order:
        lack = ((totals / k - held) * weight) @ counts[g]  # how much each fold still lacks this group's labels
        f = int(np.lexsort((fold_rank, clips, -np.round(lack, 9)))[0])
        fold_of_group[g] = f
        held[f] += counts[g]
        clips[f] += sizes[g]
    return fold_of_group[group_of]
