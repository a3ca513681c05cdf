"""Ensembles: the members' score matrices (aligned on video ids by :mod:`tinyactions.score.best_epoch`)
averaged with weights."""

from __future__ import annotations

import numpy as np


def average(matrices: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """Weighted mean of member score matrices; an unreadable video (NaN in every member) stays NaN."""
    weights = np.ones(len(matrices)) if weights is None else np.asarray(weights, float)
    if len(weights) != len(matrices) or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("ensemble weights must be one non-negative number per member, not all zero")
    stack = np.stack(matrices)
    return np.tensordot(weights / weights.sum(), stack, axes=1)
