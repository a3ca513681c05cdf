"""How much of a validation number is noise: bootstrap intervals over source videos.

The estimand: val estimates the 26-class macro F1 of a test set where every class has positives. A class
without positives in val (or in a resample of it) has no F1 to estimate, so the estimate is the mean F1
over the classes with positives (``present``: "22 of 26"), and in each draw over the classes with
positives in that draw (the predictions of the others ignored), as the mAP draws already do. The mean
over all 26 with absent classes at 0 (the challenge metric on a split that lacks classes) is reported
beside it as a pessimistic bound.

Clips cut from one surveillance video share scene, camera and people, so they are not independent draws:
the unit resampled is the source video (``video_id``), with all of its clips. The decisions are held
fixed (for a cross-validated number, the out-of-fold decisions): an interval says how the number of these
decisions would vary over other source videos like val's, not how refitting the rule on other data or
training with another seed would move it. Each draw reweights per-source counts (true positives, false
positives, false negatives per source video and class), so B draws cost B small matrix products, never a
refit; leaving one source out (the jackknife BCa needs) is one more reweighting. A paired interval
resamples the same source videos for two sets of decisions and bounds their difference.

``method``: ``percentile``, ``basic`` or ``bca`` (bias-corrected and accelerated); which one covers its
level on data shaped like this task's is measured by ``bench/interval_coverage.py`` (bench/README.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from tinyactions.decide.settings import INTERVAL_METHODS

METHODS = INTERVAL_METHODS
# The source videos (of 16 clips) at which bench/interval_coverage.py measured BCa's coverage of the F1 and
# of paired F1 differences within [0.93, 0.97] (bench/README.md); below, the intervals are labelled
# approximate (at 30 sources of 4 clips it measured 0.69-0.76)
COVERED_FROM_SOURCES = 200
POWER = 0.8  # the power at which the smallest detectable difference is stated


@dataclass(frozen=True)
class Bootstrap:
    """Draws over the source videos of a split: ``weights[b, s]``, how often draw b takes source s."""

    source_of: np.ndarray  # (videos,) the source index of each video
    weights: np.ndarray  # (draws, sources)
    level: float
    method: str = "percentile"
    # mAP draws of score matrices already seen (a run's scores enter its row and its comparisons)
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def over(cls, sources, draws: int, seed: int, level: float = 0.95, method: str = "percentile") -> "Bootstrap":
        """``draws`` resamples (with replacement, as many sources as there are) of the distinct values
        of ``sources`` (one per video)."""
        if method not in METHODS:
            raise ValueError(f"interval method {method!r} is not one of {', '.join(METHODS)}")
        _, source_of = np.unique(np.asarray(sources), return_inverse=True)
        n = int(source_of.max()) + 1 if len(source_of) else 0
        weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=draws) if n else None
        return cls(source_of, weights, level, method)

    @property
    def sources(self) -> int:
        return self.weights.shape[1]

    def _counts(self, labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """(3, sources, classes): true positives, false positives, false negatives per source video."""
        y, p = np.asarray(labels).astype(bool), np.asarray(predicted).astype(bool)
        order = np.argsort(self.source_of, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(self.source_of[order]) != 0])  # every source has a video
        hits = np.stack((y & p, ~y & p, y & ~p)).astype(np.float64)[:, order]
        return np.add.reduceat(hits, starts, axis=1)

    def _f1(self, counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The estimate (mean F1 over the classes with positives) of each row of source ``weights``; NaN
        where no class has a positive."""
        tp, fp, fn = (weights @ c for c in counts)
        den = 2 * tp + fp + fn
        f1 = np.zeros_like(den)
        np.divide(2 * tp, den, out=f1, where=den > 0)
        present = (tp + fn) > 0
        counted = present.sum(axis=1)
        with np.errstate(invalid="ignore"):
            return np.where(counted > 0, (f1 * present).sum(axis=1) / counted, np.nan)

    def _statistic(self, labels: np.ndarray, predicted: np.ndarray):
        counts = self._counts(labels, predicted)
        return lambda weights: self._f1(counts, weights)

    def draws(self, labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """(draws,) the estimate of the decisions on each resample."""
        return self._statistic(labels, predicted)(self.weights)

    def point(self, labels: np.ndarray, predicted: np.ndarray) -> float:
        """The estimate on val itself: the mean F1 over the classes with positives."""
        return float(self._statistic(labels, predicted)(self._standard_weights()["point"])[0])

    def interval(self, labels: np.ndarray, predicted: np.ndarray) -> dict:
        """``{"lo", "hi"}`` of the estimate of ``predicted``."""
        return self._bounds(self._statistic(labels, predicted))

    def per_class(self, labels: np.ndarray, predicted: np.ndarray) -> list[dict]:
        """Each class's ``{"lo", "hi"}`` of its F1 over the draws where it has positives; NaN bounds for a
        class whose positives all come from one source video (no variation between sources to resample)."""
        counts = self._counts(labels, predicted)

        def f1_of(k: int):
            def statistic(weights):
                tp, fp, fn = (weights @ c[:, k] for c in counts)
                with np.errstate(invalid="ignore", divide="ignore"):
                    return np.where(tp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)

            return statistic

        out = []
        for k in range(counts.shape[2]):
            if np.count_nonzero(counts[0, :, k] + counts[2, :, k]) < 2:
                out.append({"lo": float("nan"), "hi": float("nan")})
            else:
                out.append(self._bounds(f1_of(k)))
        return out

    def paired(self, labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict:
        """``{"lo", "hi"}`` of estimate(a) - estimate(b), both on the same resampled source videos."""
        sa, sb = self._statistic(labels, a), self._statistic(labels, b)
        return self._bounds(lambda weights: sa(weights) - sb(weights))

    def paired_spread(self, labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        """The bootstrap's standard error of estimate(a) - estimate(b)."""
        return _sd(self.draws(labels, a) - self.draws(labels, b))

    def map_draws(self, labels: np.ndarray, scores: np.ndarray, columns=None, weights=None) -> np.ndarray:
        """(rows of ``weights``,) mean average precision over ``columns`` (every class by default) on each
        resample (``weights``: the draws by default): a video counts as often as its source video is drawn,
        its copies as clips of their own, next to each other in the ranking (the AP of the resampled clips;
        with every weight 1 this is :func:`tinyactions.challenge.metrics.average_precision`); a class without
        positives in a draw is left out of that draw's mean. A positive drawn w times after N clips of which
        F positives adds sum_{j=1..w} (F + j) / (N + j) = w - (N - F) (H(N + w) - H(N)), H the harmonic
        numbers."""
        y, s = np.asarray(labels).astype(bool), np.nan_to_num(np.asarray(scores, float), nan=-np.inf)
        w = (self.weights if weights is None else weights)[:, self.source_of].astype(np.int64)  # (draws, videos)
        harmonic = np.concatenate(([0.0], np.cumsum(1.0 / np.arange(1, int(w.sum(axis=1).max()) + 1))))
        aps = []
        for k in range(y.shape[1]) if columns is None else columns:
            order = np.argsort(-s[:, k], kind="stable")
            at = np.flatnonzero(y[order, k])  # the positives' places in the ranking
            if not len(at):
                aps.append(np.full(len(w), np.nan))
                continue
            wk = w[:, order]
            drawn = wk[:, at]  # how often each positive is drawn
            before = np.cumsum(wk, axis=1)[:, at] - drawn  # clips ranked above it
            found_before = np.cumsum(drawn, axis=1) - drawn  # positives among them
            added = drawn - (before - found_before) * (harmonic[before + drawn] - harmonic[before])
            positives = drawn.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                aps.append(np.where(positives > 0, added.sum(axis=1) / positives, np.nan))
        aps = np.stack(aps, axis=1)
        counted = np.isfinite(aps).sum(axis=1)
        return np.where(counted > 0, np.nansum(aps, axis=1) / np.maximum(counted, 1), np.nan)

    def _map_statistic(self, labels: np.ndarray, scores: np.ndarray, columns=None):
        """mAP as a statistic of source weights; the draws, the point and the jackknife of one score matrix
        are computed once (a run's scores enter its row and every comparison it is in)."""
        digest = hashlib.sha256()
        for part in (np.asarray(labels, np.int8), np.asarray(scores, np.float64)):
            digest.update(np.ascontiguousarray(part).tobytes())
        memo = self._memo.setdefault((digest.hexdigest(), None if columns is None else tuple(columns)), {})

        def statistic(weights: np.ndarray) -> np.ndarray:
            kind = next((k for k, w in self._standard_weights().items() if w is weights), None)
            if kind is None:
                return self.map_draws(labels, scores, columns, weights)
            if kind not in memo:
                memo[kind] = self.map_draws(labels, scores, columns, weights)
            return memo[kind]

        return statistic

    def _standard_weights(self) -> dict[str, np.ndarray]:
        """The weights every statistic is evaluated at: the draws, val itself, and leave-one-source-out."""
        if "weights" not in self._memo:
            self._memo["weights"] = {
                "draws": self.weights,
                "point": np.ones((1, self.sources)),
                "jackknife": 1 - np.eye(self.sources),
            }
        return self._memo["weights"]

    def map_point(self, labels: np.ndarray, scores: np.ndarray, columns=None) -> float:
        """The mAP of ``scores`` on val itself."""
        return float(self._map_statistic(labels, scores, columns)(self._standard_weights()["point"])[0])

    def map_interval(self, labels: np.ndarray, scores: np.ndarray, columns=None) -> dict:
        """``{"lo", "hi"}`` of the mAP of ``scores`` over ``columns``."""
        return self._bounds(self._map_statistic(labels, scores, columns))

    def paired_map(self, labels: np.ndarray, a: np.ndarray, b: np.ndarray, columns=None) -> dict:
        """``{"lo", "hi"}`` of mAP(a) - mAP(b) over ``columns``, both on the same resampled source videos."""
        sa, sb = self._map_statistic(labels, a, columns), self._map_statistic(labels, b, columns)
        return self._bounds(lambda weights: sa(weights) - sb(weights))

    def paired_map_spread(self, labels: np.ndarray, a: np.ndarray, b: np.ndarray, columns=None) -> float:
        sa, sb = self._map_statistic(labels, a, columns), self._map_statistic(labels, b, columns)
        draws = self._standard_weights()["draws"]
        return _sd(sa(draws) - sb(draws))

    def _bounds(self, statistic) -> dict:
        """``{"lo", "hi"}`` at ``level`` by ``method`` from a statistic of source weights."""
        weights = self._standard_weights()
        point = float(statistic(weights["point"])[0])
        jackknife = statistic(weights["jackknife"]) if self.method == "bca" else None
        return bounds(statistic(weights["draws"]), point, self.level, self.method, jackknife)


def bounds(draws: np.ndarray, point: float, level: float, method: str, jackknife: np.ndarray | None = None) -> dict:
    """``{"lo", "hi"}`` at ``level`` from bootstrap ``draws`` of a statistic whose value on the data is
    ``point``: ``percentile`` (the draws' quantiles), ``basic`` (reflected about the point) or ``bca`` (the
    quantiles moved by the draws' bias and the leave-one-source-out ``jackknife``'s acceleration). Draws
    that are all equal give that value at both ends."""
    draws = draws[np.isfinite(draws)]
    tail = (1 - level) / 2
    if not len(draws) or np.ptp(draws) == 0:
        value = float(draws[0]) if len(draws) else point
        return {"lo": value, "hi": value}
    if method == "basic":
        q_lo, q_hi = np.quantile(draws, [tail, 1 - tail])
        return {"lo": float(2 * point - q_hi), "hi": float(2 * point - q_lo)}
    levels = [tail, 1 - tail]
    if method == "bca":
        levels = _bca_levels(draws, point, jackknife, levels)
    q_lo, q_hi = np.quantile(draws, levels)
    return {"lo": float(q_lo), "hi": float(q_hi)}


def _bca_levels(draws: np.ndarray, point: float, jackknife: np.ndarray, levels: list[float]) -> list[float]:
    """Efron's bias-corrected and accelerated quantile levels: bias from the share of draws below the
    point, acceleration from the leave-one-source-out values."""
    normal = NormalDist()
    below = (np.sum(draws < point) + 0.5 * np.sum(draws == point)) / len(draws)
    z0 = normal.inv_cdf(min(max(below, 1e-6), 1 - 1e-6))
    jack = jackknife[np.isfinite(jackknife)]
    d = jack.mean() - jack
    denominator = 6 * np.sum(d**2) ** 1.5
    a = float(np.sum(d**3) / denominator) if denominator > 0 else 0.0
    out = []
    for level in levels:
        z = normal.inv_cdf(level)
        out.append(normal.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))))
    return out


def _sd(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def smallest_detectable(spread: float, level: float = 0.95, power: float = POWER) -> float:
    """The smallest true difference a two-sided test at ``level`` would find with probability ``power``,
    given the standard error ``spread`` of the difference: (z of the level + z of the power) x spread."""
    normal = NormalDist()
    return float((normal.inv_cdf(1 - (1 - level) / 2) + normal.inv_cdf(power)) * spread)
