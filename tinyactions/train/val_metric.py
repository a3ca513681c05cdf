"""Per-epoch validation for mmengine: the challenge F1 at a 0.5 threshold and mAP, from sigmoid scores."""

from __future__ import annotations

import numpy as np
from mmaction.registry import METRICS
from mmengine.evaluator import BaseMetric

from tinyactions.challenge import metrics


@METRICS.register_module()
class MultiLabelF1Metric(BaseMetric):
    default_prefix = "val"

    def __init__(self, threshold: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.threshold = threshold

    def process(self, data_batch, data_samples) -> None:
        for sample in data_samples:
            self.results.append(
                (np.asarray(sample["pred_score"].cpu(), np.float64), np.asarray(sample["gt_label"].cpu(), np.int64))
            )

    def compute_metrics(self, results: list) -> dict:
        scores = np.stack([r[0] for r in results])
        labels = np.stack([r[1] for r in results]).reshape(scores.shape)
        predicted = (scores >= self.threshold).astype(int)
        per_class = metrics.per_class(labels, predicted)
        ap = metrics.average_precision(labels, scores)
        return {
            "f1": per_class.macro_f1,
            "f1_present": per_class.macro_f1_present,
            "mAP": float(np.nanmean(ap)) if np.isfinite(ap).any() else 0.0,
        }
