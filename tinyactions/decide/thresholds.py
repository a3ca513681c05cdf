"""Per-class decision thresholds fitted on validation scores.

- ``fixed``: 0.5 for every class.
- ``flat`` (ours, the baseline of the paper's claim): one threshold for every class, the one maximising the
  macro F1 of the scores it is fitted on (the ``pooled`` threshold below).
- ``f1``: the threshold maximising each class's validation F1. The macro F1 is a sum of per-class terms,
  so per-class optima are jointly optimal when the classes are scored independently.
- ``frequency`` (the paper: "large-sample-size categories need a higher prediction threshold"), fitted:
  ``t_c = a + b * g_c`` with ``g_c`` the class's log train frequency scaled to [0, 1] (rarest 0, most
  frequent 1) and ``b >= 0``, so frequent classes get higher thresholds. The two parameters are the ones
  maximising the macro F1 of the scores it is fitted on, over a grid that covers every useful threshold
  (``a`` in [0, 0.98], ``b`` in [0, 1], steps of 0.02; ties: the flattest rule, then the lowest): the
  paper "carefully set" its thresholds, and a set that is not fitted is a guess (two parameters, not 26:
  the rule's shape is its prior). Log frequency because the classes are long-tailed.
- ``frequency_set`` (ours): the same shape with hand-set end points, ``low`` for the rarest class and
  ``high`` for the most frequent.

Rare classes (few validation positives) overfit an F1-optimal threshold: it is shrunk towards a
shared threshold with weight ``positives / (positives + min_positives)``. The shared threshold is
``pooled`` (the one threshold for all classes that maximises the macro F1 on the same scores: averaged
ensemble scores are compressed towards the base rates, so 0.5 would silence rare classes) or the fixed
``prior``. :func:`cross_validated_thresholds` gives each val video the thresholds fitted on the folds
other than its own (the honest estimates of :mod:`tinyactions.decide.crossval` are built on it). Fitting is
vectorised over classes and works on a ranking made once (:class:`Ranked`), so the folds of a
cross-validation cost no further sort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyactions.decide.settings import Thresholds

POOLED_GRID = np.round(np.arange(0.02, 0.99, 0.02), 2)
FREQUENCY_BASE = np.round(np.arange(0.0, 0.99, 0.02), 2)  # a: the rarest class's threshold
FREQUENCY_SLOPE = np.round(np.arange(0.0, 1.001, 0.02), 2)  # b: what the most frequent class adds


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


def f1_at(ranked: Ranked, candidates: np.ndarray) -> np.ndarray:
    """The F1 of each class at each of its candidate thresholds: ``candidates`` is (classes, ...), the
    result has its shape. A class with neither positives nor predictions scores 0."""
    s, y = ranked.scores, ranked.labels
    classes = s.shape[0]
    tp_at = np.hstack([np.zeros((classes, 1), int), np.cumsum(y, 1)])  # tp among the first i entries
    support = y.sum(1)
    flat = np.asarray(candidates, float).reshape(classes, -1)
    f1 = np.zeros(flat.shape)
    for c in range(classes):
        predicted = np.searchsorted(-s[c], -flat[c], side="right")  # entries >= t (NaN sorts last)
        den = support[c] + predicted
        np.divide(2 * tp_at[c, predicted], den, out=f1[c], where=den > 0)
    return f1.reshape(np.shape(candidates))


def pooled_threshold(ranked: Ranked, grid: np.ndarray = POOLED_GRID) -> float:
    """The single threshold (on ``grid``) that maximises the macro F1 over all classes; ties: the lowest."""
    f1 = f1_at(ranked, np.broadcast_to(grid, (ranked.scores.shape[0], len(grid))))
    return float(grid[int(np.argmax(f1.mean(axis=0)))])


def frequency_position(train_frequency: np.ndarray) -> np.ndarray:
    """``g_c``: each class's log train frequency scaled to [0, 1] (rarest 0, most frequent 1; all 0 when
    the classes are equally frequent). A class without train videos counts as frequency 1e-6."""
    logf = np.log(np.maximum(np.asarray(train_frequency, float), 1e-6))
    span = logf.max() - logf.min()
    return (logf - logf.min()) / span if span > 0 else np.zeros_like(logf)


def fit_frequency(ranked: Ranked, train_frequency: np.ndarray) -> tuple[float, float]:
    """(a, b) of the fitted frequency rule ``t_c = a + b * g_c``: the grid point with the highest macro F1
    on ``ranked``; ties go to the smallest b (the flattest rule), then the smallest a."""
    g = frequency_position(train_frequency)
    candidates = FREQUENCY_BASE[None, :, None] + FREQUENCY_SLOPE[None, None, :] * g[:, None, None]
    macro = f1_at(ranked, candidates).mean(axis=0)  # (a, b)
    best = np.flatnonzero(np.isclose(macro, macro.max(), rtol=0, atol=1e-12))
    a, b = np.unravel_index(best, macro.shape)
    pick = np.lexsort((a, b))[0]
    return float(FREQUENCY_BASE[a[pick]]), float(FREQUENCY_SLOPE[b[pick]])


def frequency_thresholds(a: float, b: float, train_frequency: np.ndarray) -> np.ndarray:
    return a + b * frequency_position(train_frequency)


@dataclass(frozen=True)
class Fitted:
    """A threshold rule fitted on some val videos: a threshold per class, and the rule's own fitted
    parameters by name (the frequency rule's ``a`` and ``b``; none for the others)."""

    thresholds: np.ndarray
    params: dict[str, float]


def _fixed(ranked: Ranked | None, n_classes: int, config: Thresholds, train_frequency) -> Fitted:
    return Fitted(np.full(n_classes, config.prior), {})


def _flat(ranked: Ranked, n_classes: int, config: Thresholds, train_frequency) -> Fitted:
    t = pooled_threshold(ranked)
    return Fitted(np.full(n_classes, t), {"t": t})


def _f1(ranked: Ranked, n_classes: int, config: Thresholds, train_frequency) -> Fitted:
    shared = pooled_threshold(ranked) if config.shrink_to == "pooled" else config.prior
    best, _ = best_f1_thresholds(ranked)
    positives = ranked.labels.sum(1)
    weight = positives / (positives + config.min_positives) if config.min_positives else np.ones(n_classes)
    return Fitted(weight * np.minimum(best, 1.0) + (1 - weight) * shared, {})


def _frequency(ranked: Ranked, n_classes: int, config: Thresholds, train_frequency: np.ndarray) -> Fitted:
    a, b = fit_frequency(ranked, train_frequency)
    return Fitted(frequency_thresholds(a, b, train_frequency), {"a": a, "b": b})


def _frequency_set(ranked: Ranked | None, n_classes: int, config: Thresholds, train_frequency: np.ndarray) -> Fitted:
    return Fitted(frequency_thresholds(config.low, config.high - config.low, train_frequency), {})


# every rule of thresholds.strategy: (its fit, whether it reads ranked scores, whether it needs the train
# frequency); the one place a strategy's name is turned into its fit
RULES = {
    "fixed": (_fixed, False, False),
    "flat": (_flat, True, False),
    "f1": (_f1, True, False),
    "frequency": (_frequency, True, True),
    "frequency_set": (_frequency_set, False, True),
}
RANKED_STRATEGIES = tuple(name for name, (_, ranked, _) in RULES.items() if ranked)  # fitted on ranked scores


def fit_rule(
    ranked: Ranked | None, n_classes: int, config: Thresholds, train_frequency: np.ndarray | None = None
) -> Fitted:
    """The one dispatch: ``config.strategy`` fitted on scores already ranked (``ranked`` is needed by the
    strategies of ``RANKED_STRATEGIES`` only); evaluate, cross-validation and the selections call it."""
    rule, needs_ranked, needs_frequency = RULES[config.strategy]
    if needs_frequency and train_frequency is None:
        raise ValueError(f"the {config.strategy} strategy needs the train frequency of every class")
    if needs_ranked and ranked is None:
        raise ValueError(f"the {config.strategy} strategy is fitted on ranked scores (Ranked.of)")
    return rule(ranked, n_classes, config, train_frequency)


def fit(
    scores: np.ndarray, labels: np.ndarray, config: Thresholds, train_frequency: np.ndarray | None = None
) -> np.ndarray:
    """Thresholds (classes,) for (videos, classes) validation scores and 0/1 labels."""
    ranked = Ranked.of(scores, labels) if config.strategy in RANKED_STRATEGIES else None
    return fit_ranked(ranked, np.asarray(scores).shape[1], config, train_frequency)


def fit_ranked(
    ranked: Ranked | None, n_classes: int, config: Thresholds, train_frequency: np.ndarray | None = None
) -> np.ndarray:
    """The thresholds of :func:`fit_rule`."""
    return fit_rule(ranked, n_classes, config, train_frequency).thresholds


def predict(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """0/1 decisions; ``thresholds`` per class, or per video and class (cross-validated)."""
    return (np.asarray(scores) >= thresholds).astype(np.int8)


def cross_validated_thresholds(
    scores: np.ndarray,
    labels: np.ndarray,
    config: Thresholds,
    train_frequency: np.ndarray | None,
    folds: np.ndarray,
    ranked: Ranked | None = None,
) -> np.ndarray:
    """(videos, classes): each video's thresholds, fitted on the folds other than its own (``folds``: a
    fold index per video). ``ranked``: the ranking of ``scores``, if already made."""
    if config.strategy in RANKED_STRATEGIES and ranked is None:
        ranked = Ranked.of(scores, labels)
    rows = np.zeros(np.shape(labels), dtype=np.float64)
    for f in np.unique(folds):
        held = folds == f
        rest = ranked.subset(~held, with_rows=False) if ranked is not None else None
        rows[held] = fit_ranked(rest, scores.shape[1], config, train_frequency)[None, :]
    return rows
