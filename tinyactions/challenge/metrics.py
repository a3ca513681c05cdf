"""The challenge metric: per-class precision, recall and F1 on binary predictions, averaged over classes.

The ranking number is the unweighted mean of the 26 per-class F1 scores (macro F1). The server's
treatment of a class with no positives is not published; this module follows scikit-learn's default
(``zero_division=0``), the most likely implementation: a class with no positives scores F1 = 0 whatever
was predicted, and a class with positives but no predictions scores precision 0. Because that choice
drags the mean down on small validation splits where some classes are absent, ``macro_f1_present``
(the mean over classes with at least one positive) is reported beside it; on the real test set, where
every class occurs, the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyactions.challenge.annotations import CLASSES


@dataclass(frozen=True)
class Scores:
    precision: np.ndarray  # per class
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray  # positives per class
    predicted: np.ndarray  # predicted positives per class

    @property
    def macro_f1(self) -> float:
        """The challenge's ranking number."""
        return float(self.f1.mean())

    @property
    def macro_f1_present(self) -> float:
        present = self.support > 0
        return float(self.f1[present].mean()) if present.any() else 0.0


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, float), np.asarray(den, float)
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _as_binary(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"{name} must be (videos, classes), got shape {array.shape}")
    if not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name} must hold 0/1 values")
    return array.astype(bool)


def per_class(y_true, y_pred) -> Scores:
    """Per-class scores of binary (videos, classes) arrays."""
    t, p = _as_binary(y_true, "y_true"), _as_binary(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true {t.shape} and y_pred {p.shape} differ in shape")
    tp = (t & p).sum(0)
    support, predicted = t.sum(0), p.sum(0)
    precision, recall = _divide(tp, predicted), _divide(tp, support)
    f1 = _divide(2 * tp, support + predicted)  # = 2PR/(P+R), 0 where both are 0
    return Scores(precision, recall, f1, support, predicted)


def micro_f1(y_true, y_pred) -> float:
    t, p = _as_binary(y_true, "y_true"), _as_binary(y_pred, "y_pred")
    tp = (t & p).sum()
    return float(_divide(2 * tp, t.sum() + p.sum()))


def samples_f1(y_true, y_pred) -> float:
    """Mean over videos of each video's F1 between its true and predicted label sets."""
    t, p = _as_binary(y_true, "y_true"), _as_binary(y_pred, "y_pred")
    return float(_divide(2 * (t & p).sum(1), t.sum(1) + p.sum(1)).mean())


def summary(y_true, y_pred, classes: tuple[str, ...] = CLASSES) -> dict:
    """Everything a leaderboard row needs, as plain JSON-able numbers."""
    s = per_class(y_true, y_pred)
    return {
        "macro_f1": s.macro_f1,
        "macro_f1_present": s.macro_f1_present,
        "macro_precision": float(s.precision.mean()),
        "macro_recall": float(s.recall.mean()),
        "micro_f1": micro_f1(y_true, y_pred),
        "samples_f1": samples_f1(y_true, y_pred),
        "per_class": {
            c: {
                "precision": float(s.precision[i]),
                "recall": float(s.recall[i]),
                "f1": float(s.f1[i]),
                "support": int(s.support[i]),
            }
            for i, c in enumerate(classes)
        },
    }


def average_precision(y_true, scores) -> np.ndarray:
    """Per-class average precision (area under the precision-recall step curve); NaN for classes
    without positives. Threshold-free: what training logs to follow ranking quality."""
    t = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, float)
    ap = np.full(t.shape[1], np.nan)
    for k in range(t.shape[1]):
        positives = t[:, k].sum()
        if positives == 0:
            continue
        order = np.argsort(-s[:, k], kind="stable")
        hits = t[order, k]
        precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        ap[k] = float(precision_at[hits].sum() / positives)
    return ap
