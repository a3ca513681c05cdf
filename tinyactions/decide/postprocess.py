"""Post-processing as the paper does it: inside a group of mutually exclusive classes keep only one positive
prediction, the top-scoring one (the paper) or the one furthest above its own threshold
(``postprocess.keep: margin``, ours).

Groups come from params, or are derived from the training labels: two classes are called exclusive when
they never share a training video although independence would predict at least ``min_expected`` shared
videos (count_a * count_b / videos) — absence of evidence among rare classes is not evidence of
exclusion. Groups are grown greedily from the most frequent class into cliques of that graph. Real data
shows intuitive pairs do co-occur (a vehicle stopping while someone talks, carrying while walking or
standing), so derived groups are checked against data, not intuition.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def derive_groups(cooccurrence: pd.DataFrame, videos: int, min_expected: float) -> list[list[str]]:
    """Groups of classes that never share a training video where independence predicts they would."""
    counts = pd.Series(np.diag(cooccurrence.to_numpy()), index=cooccurrence.index)

    def exclusive(a: str, b: str) -> bool:
        return cooccurrence.loc[a, b] == 0 and counts[a] * counts[b] / max(videos, 1) >= min_expected

    pool = [c for c in counts.sort_values(ascending=False, kind="stable").index if counts[c] > 0]
    groups, used = [], set()
    for seed in pool:
        if seed in used:
            continue
        group = [seed]
        for other in pool:
            if other in used or other in group:
                continue
            if all(exclusive(other, g) for g in group):
                group.append(other)
        if len(group) >= 2:
            groups.append(group)
            used.update(group)
    return groups


def apply(
    predicted: np.ndarray, scores: np.ndarray, groups: list[list[int]], thresholds: np.ndarray | None = None
) -> np.ndarray:
    """Keep, per video and group, only one predicted class of the group: the highest-scoring one (the
    seed), or with ``thresholds`` (per class, or per video and class: ``postprocess.keep: margin``) the
    one whose score passes its own threshold by the most, so that a frequent class's high scores do not
    win by default over a rare class's high threshold-relative score."""
    out = predicted.copy()
    rank = np.nan_to_num(scores, nan=-1.0)
    if thresholds is not None:
        rank = rank - np.broadcast_to(thresholds, np.shape(scores))
    for group in groups:
        g = np.asarray(group)
        sub_pred = out[:, g].astype(bool)
        masked = np.where(sub_pred, rank[:, g], -np.inf)
        top = np.argmax(masked, axis=1)
        keep = np.zeros_like(sub_pred)
        rows = np.flatnonzero(sub_pred.any(axis=1))
        keep[rows, top[rows]] = True
        out[:, g] = keep.astype(out.dtype)
    return out
