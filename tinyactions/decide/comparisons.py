"""What each component of the method changes: paired differences on val, each with its interval and the
smallest difference this val could detect.

Two sets of decisions (or of scores) are compared on the same resampled source videos
(:class:`tinyactions.decide.intervals.Bootstrap`). Two runs are compared threshold-free, at mAP, and at
the F1 of thresholds fitted inside the folds for each run (the submission rule's threshold rule, no
post-processing); never at F1 at 0.5, where a run's number measures its calibration, not what it
recognises. Beside each difference stands the smallest true difference a two-sided test at the intervals'
level would find with 80% power, from the bootstrap's spread of the difference: it covers val's sampling
only (training with another seed moves a run's numbers too; replicas of a recipe show by how much). A
difference whose interval holds 0 reads "not detectable at this size", never "no effect". The evaluate
stage and the demo bench (``bench/demo_signal.py``) both call these functions.
"""

from __future__ import annotations

import numpy as np

from tinyactions.decide import crossval
from tinyactions.decide.intervals import Bootstrap, smallest_detectable

F1_FOLDS = "F1, thresholds fitted in the folds"


def entry(metric: str, difference: float, ci: dict, spread: float, level: float) -> dict:
    """One comparison as the leaderboard records it."""
    detectable = smallest_detectable(spread, level)
    separated = ci["lo"] > 0 or ci["hi"] < 0
    return {
        "metric": metric,
        "difference": float(difference),
        "ci": ci,
        "smallest_detectable": detectable,
        "reading": "separated"
        if separated
        else f"not detectable at this size (smallest detectable {detectable:.3f}, val sampling only)",
    }


def decisions(boot: Bootstrap, labels: np.ndarray, a: np.ndarray, b: np.ndarray, metric: str, columns=None) -> dict:
    """Two sets of 0/1 decisions on the same videos: the difference of the estimate (mean F1 over the
    classes with positives, of ``columns``)."""
    cols = slice(None) if columns is None else list(columns)
    y, pa, pb = labels[:, cols], a[:, cols], b[:, cols]
    value = boot.point(y, pa) - boot.point(y, pb)
    return entry(metric, value, boot.paired(y, pa, pb), boot.paired_spread(y, pa, pb), boot.level)


def mean_ap(boot: Bootstrap, labels: np.ndarray, a: np.ndarray, b: np.ndarray, columns=None) -> dict:
    """Two sets of scores on the same videos: the difference of their mAP over ``columns``."""
    value = boot.map_point(labels, a, columns) - boot.map_point(labels, b, columns)
    return entry(
        "mAP", value, boot.paired_map(labels, a, b, columns), boot.paired_map_spread(labels, a, b, columns), boot.level
    )


def fold_fitted(scores: np.ndarray, labels: np.ndarray, rule: crossval.Rule, folds: np.ndarray) -> np.ndarray:
    """Each video's decisions with thresholds fitted by ``rule``'s threshold rule on the other folds (no
    post-processing; unreadable videos, NaN scores, predict nothing)."""
    scores = np.nan_to_num(np.asarray(scores, np.float64), nan=-1.0)
    return crossval.cv_predictions(scores, labels, rule, folds, [])


def runs(
    boot: Bootstrap,
    labels: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    rule: crossval.Rule,
    folds: np.ndarray,
    columns=None,
) -> dict[str, dict]:
    """Two runs' val scores, at mAP and at the F1 of thresholds fitted inside the folds for each."""
    return {
        "mAP": mean_ap(boot, labels, np.nan_to_num(a, nan=-1.0), np.nan_to_num(b, nan=-1.0), columns),
        F1_FOLDS: decisions(
            boot, labels, fold_fitted(a, labels, rule, folds), fold_fitted(b, labels, rule, folds), F1_FOLDS, columns
        ),
    }


def by_chance(count: int, level: float) -> float:
    """How many of ``count`` comparisons without any effect would exclude 0 by chance at ``level``."""
    return count * (1 - level)
