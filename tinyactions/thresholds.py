"""Per-class decision thresholds fitted on validation scores.

- ``fixed``: 0.5 for every class.
- ``f1``: the threshold maximising each class's validation F1. The macro F1 is a sum of per-class terms,
  so per-class optima are jointly optimal when the classes are scored independently.
- ``frequency`` (the seed): frequent classes get higher thresholds, a monotone rule of the log train
  frequency between ``low`` and ``high``.

Rare classes (few validation positives) overfit an F1-optimal threshold: it is shrunk towards a
shared threshold with weight ``positives / (positives + min_positives)``. The shared threshold is
``pooled`` (the one threshold for all classes that maximises the macro F1 on the same scores: averaged
ensemble scores are compressed towards the base rates, so 0.5 would silence rare classes) or the fixed
``prior``. :func:`cross_validated_predictions` fits on k-1 folds of val and predicts the held-out fold
(the honest estimates of :mod:`tinyactions.crossval` are built on it). Fitting is vectorised over classes and works on
a ranking made once (:class:`Ranked`), so the folds of a cross-validation cost no further sort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .settings import SHRINK_TARGETS, STRATEGIES

POOLED_GRID = np.round(np.arange(0.02, 0.99, 0.02), 2)


@dataclass(frozen=True)
class ThresholdConfig:
    """The ``thresholds`` section of params.yaml (which holds every default)."""

    strategy: str
    prior: float
    min_positives: int
    low: float  # frequency rule: rarest class
    high: float  # frequency rule: most frequent class
    shrink_to: str  # f1 rule: what rare classes shrink towards (pooled | prior)

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"threshold strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.shrink_to not in SHRINK_TARGETS:
            raise ValueError(f"shrink target must be one of {SHRINK_TARGETS}, got {self.shrink_to!r}")


@dataclass(frozen=True)
class Ranked:
    """Scores sorted per class (descending, NaN last) with their labels and rows in the same order, one
    row per class. Fitting thresholds on any subset of the videos (the k-1 folds of a cross-validation)
    needs no further sort: a subset of a ranking is the subset's ranking. The order inside a tie is left
    to the sort: a threshold never splits a tie, so no result depends on it."""

    scores: np.ndarray  # (classes, n), each row descending
    labels: np.ndarray  # (classes, n) bool, in the same order
    rows: np.ndarray | None  # (classes, n) the video of each entry

    @classmethod
    def of(cls, scores: np.ndarray, labels: np.ndarray) -> "Ranked":
        negated = -np.asarray(scores, float).T  # class-major and contiguous: each sort reads one row
        order = np.argsort(negated, axis=1)
        return cls(
            -np.take_along_axis(negated, order, 1),
            np.take_along_axis(np.asarray(labels).astype(bool).T, order, 1),
            order,
        )

    def subset(self, mask: np.ndarray, with_rows: bool = True) -> "Ranked":
        """The ranking of the videos where ``mask`` (one flag per video) is true (``with_rows``: keep
        the videos of the entries, needed only to take a subset of the subset)."""
        keep = np.asarray(mask, bool)[self.rows]
        shape = (self.scores.shape[0], int(np.count_nonzero(mask)))
        return Ranked(
            self.scores[keep].reshape(shape),
            self.labels[keep].reshape(shape),
            self.rows[keep].reshape(shape) if with_rows else None,
        )


def best_f1_thresholds(ranked: Ranked) -> tuple[np.ndarray, np.ndarray]:
    """(thresholds, F1) per class maximising the F1 of ``scores >= threshold``. Candidates lie midway
    between consecutive distinct scores; a class with no positive predicts nothing."""
    s, y = ranked.scores, ranked.labels
    classes, n = s.shape
    if n == 0:
        raise ValueError("thresholds need at least one video")
    cols = np.arange(classes)
    positives = y.sum(1)
    # a threshold cannot split ties, nor reach a NaN score (an unreadable video is never predicted)
    cut = np.hstack([s[:, 1:] != s[:, :-1], np.ones((classes, 1), bool)]) & ~np.isnan(s)
    f1 = np.where(cut, 2 * np.cumsum(y, 1) / (np.arange(1, n + 1)[None, :] + positives[:, None]), -1.0)
    k = np.argmax(f1, 1)
    after = s[cols, np.minimum(k + 1, n - 1)]
    below = np.where((k + 1 < n) & ~np.isnan(after), after, s[cols, k] - 1e-6)
    thresholds, best = (s[cols, k] + below) / 2, np.maximum(f1[cols, k], 0.0)
    # no positive: above every score and at least 1 (NaN when a score is NaN: predicts nothing either)
    highest = np.where(np.isnan(s[:, -1]), np.nan, np.maximum(s[:, 0], 0.0))
    empty = positives == 0
    thresholds = np.where(empty, np.nextafter(np.maximum(highest, 1.0), np.inf), thresholds)
    return thresholds, np.where(empty, 0.0, best)


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) of one class (see :func:`best_f1_thresholds`)."""
    t, f1 = best_f1_thresholds(Ranked.of(np.asarray(scores, float)[:, None], np.asarray(labels)[:, None]))
    return float(t[0]), float(f1[0])


def pooled_threshold(ranked: Ranked, grid: np.ndarray = POOLED_GRID) -> float:
    """The single threshold (on ``grid``) that maximises the macro F1 over all classes; ties: the lowest."""
    s, y = ranked.scores, ranked.labels
    classes, n = s.shape
    tp_at = np.hstack([np.zeros((classes, 1), int), np.cumsum(y, 1)])  # tp among the first i entries
    support = y.sum(1)
    f1 = np.zeros((len(grid), classes))
    for c in range(classes):
        predicted = np.searchsorted(-s[c], -grid, side="right")  # entries >= t (NaN sorts last)
        den = support[c] + predicted
        np.divide(2 * tp_at[c, predicted], den, out=f1[:, c], where=den > 0)
    return float(grid[int(np.argmax(f1.mean(axis=1)))])


def fit(
    scores: np.ndarray, labels: np.ndarray, config: ThresholdConfig, train_frequency: np.ndarray | None = None
) -> np.ndarray:
    """Thresholds (classes,) for (videos, classes) validation scores and 0/1 labels."""
    ranked = Ranked.of(scores, labels) if config.strategy == "f1" else None
    return fit_ranked(ranked, np.asarray(scores).shape[1], config, train_frequency)


def fit_ranked(
    ranked: Ranked | None, n_classes: int, config: ThresholdConfig, train_frequency: np.ndarray | None = None
) -> np.ndarray:
    """:func:`fit` on scores already ranked (``ranked`` is needed by the ``f1`` strategy only)."""
    if config.strategy == "fixed":
        return np.full(n_classes, config.prior)
    if config.strategy == "frequency":
        if train_frequency is None:
            raise ValueError("the frequency strategy needs the train frequency of every class")
        logf = np.log(np.maximum(np.asarray(train_frequency, float), 1e-6))
        span = logf.max() - logf.min()
        rank = (logf - logf.min()) / span if span > 0 else np.zeros_like(logf)
        return config.low + (config.high - config.low) * rank
    shared = pooled_threshold(ranked) if config.shrink_to == "pooled" else config.prior
    best, _ = best_f1_thresholds(ranked)
    positives = ranked.labels.sum(1)
    weight = positives / (positives + config.min_positives) if config.min_positives else np.ones(n_classes)
    return weight * np.minimum(best, 1.0) + (1 - weight) * shared


def predict(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return (scores >= thresholds[None, :]).astype(np.int8)


def cross_validated_predictions(
    scores: np.ndarray,
    labels: np.ndarray,
    config: ThresholdConfig,
    train_frequency: np.ndarray | None,
    folds: np.ndarray,
    ranked: Ranked | None = None,
) -> np.ndarray:
    """Held-out 0/1 predictions: each fold (``folds``: a fold index per video) thresholded with
    thresholds fitted on the other folds. ``ranked``: the ranking of ``scores``, if already made."""
    if config.strategy == "f1" and ranked is None:
        ranked = Ranked.of(scores, labels)
    predicted = np.zeros(np.shape(labels), dtype=np.int8)
    for f in np.unique(folds):
        held = folds == f
        rest = ranked.subset(~held, with_rows=False) if ranked is not None else None
        fitted = fit_ranked(rest, scores.shape[1], config, train_frequency)
        predicted[held] = predict(scores[held], fitted)
    return predicted
