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
``prior``. The honest
estimate of a strategy is :func:`cross_validated_f1`: thresholds fitted on k-1 folds of val, applied to
the held-out fold, macro F1 over the pooled predictions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import metrics
from .settings import SHRINK_TARGETS, STRATEGIES

POOLED_GRID = np.round(np.arange(0.02, 0.99, 0.02), 2)


@dataclass(frozen=True)
class ThresholdConfig:
    strategy: str = "f1"
    prior: float = 0.5
    min_positives: int = 5
    low: float = 0.3  # frequency rule: rarest class
    high: float = 0.6  # frequency rule: most frequent class
    shrink_to: str = "pooled"  # f1 rule: what rare classes shrink towards (pooled | prior)

    def __post_init__(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"threshold strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.shrink_to not in SHRINK_TARGETS:
            raise ValueError(f"shrink target must be one of {SHRINK_TARGETS}, got {self.shrink_to!r}")


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) maximising F1 of ``scores >= threshold`` for one class. Candidates lie midway
    between consecutive distinct scores; with no positive the answer is to predict nothing."""
    scores, labels = np.asarray(scores, float), np.asarray(labels).astype(bool)
    positives = labels.sum()
    if positives == 0:
        return float(np.nextafter(max(scores.max(initial=0.0), 1.0), np.inf)), 0.0
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    predicted = np.arange(1, len(s) + 1)
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # a threshold cannot split equal scores
    f1 = np.where(last_of_tie, 2 * tp / (predicted + positives), -1.0)
    k = int(np.argmax(f1))
    below = s[k + 1] if k + 1 < len(s) else s[k] - 1e-6
    return float((s[k] + below) / 2), float(f1[k])


def pooled_threshold(scores: np.ndarray, labels: np.ndarray, grid: np.ndarray = POOLED_GRID) -> float:
    """The single threshold (on ``grid``) that maximises the macro F1 over all classes; ties: the lowest."""
    f1 = [metrics.per_class(labels, (scores >= t).astype(np.int8)).macro_f1 for t in grid]
    return float(grid[int(np.argmax(f1))])


def fit(scores: np.ndarray, labels: np.ndarray, config: ThresholdConfig,
        train_frequency: np.ndarray | None = None) -> np.ndarray:
    """Thresholds (classes,) for (videos, classes) validation scores and 0/1 labels."""
    n_classes = scores.shape[1]
    if config.strategy == "fixed":
        return np.full(n_classes, config.prior)
    if config.strategy == "frequency":
        if train_frequency is None:
            raise ValueError("the frequency strategy needs the train frequency of every class")
        logf = np.log(np.maximum(np.asarray(train_frequency, float), 1e-6))
        span = logf.max() - logf.min()
        rank = (logf - logf.min()) / span if span > 0 else np.zeros_like(logf)
        return config.low + (config.high - config.low) * rank
    shared = pooled_threshold(scores, labels) if config.shrink_to == "pooled" else config.prior
    out = np.empty(n_classes)
    for k in range(n_classes):
        t, _ = best_f1_threshold(scores[:, k], labels[:, k])
        positives = int(labels[:, k].sum())
        weight = positives / (positives + config.min_positives) if config.min_positives else 1.0
        out[k] = weight * min(t, 1.0) + (1 - weight) * shared
    return out


def predict(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return (scores >= thresholds[None, :]).astype(np.int8)


def fold_assignment(n: int, folds: int, seed: int) -> np.ndarray:
    """A fold index per video (balanced, shuffled by ``seed``)."""
    return np.random.default_rng(seed).permutation(n) % max(2, min(folds, n))


def cross_validated_predictions(scores: np.ndarray, labels: np.ndarray, config: ThresholdConfig,
                                train_frequency: np.ndarray | None = None, folds: int = 5,
                                seed: int = 0) -> np.ndarray:
    """Held-out 0/1 predictions: each fold thresholded with thresholds fitted on the other folds."""
    assignment = fold_assignment(len(scores), folds, seed)
    predicted = np.zeros_like(labels, dtype=np.int8)
    for f in np.unique(assignment):
        held = assignment == f
        predicted[held] = predict(scores[held], fit(scores[~held], labels[~held], config, train_frequency))
    return predicted


def cross_validated_f1(scores: np.ndarray, labels: np.ndarray, config: ThresholdConfig,
                       train_frequency: np.ndarray | None = None, folds: int = 5, seed: int = 0) -> float:
    """Macro F1 of thresholds fitted on k-1 folds and applied to the held-out fold, pooled."""
    return metrics.per_class(labels, cross_validated_predictions(scores, labels, config, train_frequency,
                                                                 folds, seed)).macro_f1
