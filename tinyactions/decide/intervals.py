"""How much of a validation F1 is noise: percentile bootstrap intervals over source videos.

Clips cut from one surveillance video share scene, camera and people, so they are not independent draws:
the unit resampled is the source video (``video_id``), with all of its clips. The decisions are held
fixed (for a cross-validated number, the out-of-fold decisions): an interval says how the F1 of these
decisions would vary over other source videos like val's, not how refitting the rule on other data or
training with another seed would move it. Each draw reweights per-source counts (true positives, false
positives, false negatives per source video and class), so B draws cost B small matrix products, never
a refit. A paired interval resamples the same source videos for two sets of decisions and bounds their
difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Bootstrap:
    """Draws over the source videos of a split: ``weights[b, s]``, how often draw b takes source s."""

    source_of: np.ndarray  # (videos,) the source index of each video
    weights: np.ndarray  # (draws, sources)
    level: float

    @classmethod
    def over(cls, sources, draws: int, seed: int, level: float = 0.95) -> "Bootstrap":
        """``draws`` resamples (with replacement, as many sources as there are) of the distinct values
        of ``sources`` (one per video)."""
        _, source_of = np.unique(np.asarray(sources), return_inverse=True)
        n = int(source_of.max()) + 1 if len(source_of) else 0
        weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=draws) if n else None
        return cls(source_of, weights, level)

    @property
    def sources(self) -> int:
        return self.weights.shape[1]

    def _counts(self, labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """(3, sources, classes): true positives, false positives, false negatives per source video."""
        y, p = np.asarray(labels).astype(bool), np.asarray(predicted).astype(bool)
        out = np.zeros((3, self.sources, y.shape[1]))
        for k, hits in enumerate((y & p, ~y & p, y & ~p)):
            np.add.at(out[k], self.source_of, hits)
        return out

    def draws(self, labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """(draws,) macro F1 of the decisions on each resample (a class with nothing to count scores 0,
        as in :mod:`tinyactions.challenge.metrics`)."""
        tp, fp, fn = (self.weights @ c for c in self._counts(labels, predicted))
        den = 2 * tp + fp + fn
        f1 = np.zeros_like(den)
        np.divide(2 * tp, den, out=f1, where=den > 0)
        return f1.mean(axis=1)

    def map_draws(self, labels: np.ndarray, scores: np.ndarray, columns=None) -> np.ndarray:
        """(draws,) mean average precision over ``columns`` (every class by default) on each resample: a
        video counts as often as its source video is drawn (its copies tie, and a tie counts as one
        block: the precision at its end; with every weight 1 and no tied scores this is
        :func:`tinyactions.challenge.metrics.average_precision`); a class without positives in a draw is left
        out of that draw's mean."""
        y, s = np.asarray(labels).astype(bool), np.nan_to_num(np.asarray(scores, float), nan=-np.inf)
        w = self.weights[:, self.source_of].astype(float)  # (draws, videos)
        aps = []
        for k in range(y.shape[1]) if columns is None else columns:
            order = np.argsort(-s[:, k], kind="stable")
            hits, wk = y[order, k], w[:, order]
            found = np.cumsum(wk * hits, axis=1)
            precision = found / np.maximum(np.cumsum(wk, axis=1), 1e-12)
            positives = found[:, -1]
            with np.errstate(invalid="ignore", divide="ignore"):
                aps.append(np.where(positives > 0, (precision * wk * hits).sum(axis=1) / positives, np.nan))
        aps = np.stack(aps, axis=1)
        counted = np.isfinite(aps).sum(axis=1)
        return np.where(counted > 0, np.nansum(aps, axis=1) / np.maximum(counted, 1), np.nan)

    def paired_map(self, labels: np.ndarray, a: np.ndarray, b: np.ndarray, columns=None) -> list[float]:
        """[low, high] of mAP(a) - mAP(b) over ``columns``, both on the same resampled source videos."""
        diff = self.map_draws(labels, a, columns) - self.map_draws(labels, b, columns)
        return self._percentiles(diff[np.isfinite(diff)])

    def interval(self, labels: np.ndarray, predicted: np.ndarray) -> list[float]:
        """[low, high] of the macro F1 of ``predicted``."""
        return self._percentiles(self.draws(labels, predicted))

    def paired(self, labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> list[float]:
        """[low, high] of macro F1(a) - macro F1(b), both on the same resampled source videos."""
        return self._percentiles(self.draws(labels, a) - self.draws(labels, b))

    def _percentiles(self, values: np.ndarray) -> list[float]:
        tail = (1 - self.level) / 2 * 100
        low, high = np.percentile(values, [tail, 100 - tail])
        return [float(low), float(high)]
