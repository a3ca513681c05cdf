"""Multi-label losses, registered in mmaction2's MODELS registry.

- ``AsymmetricLoss``: Ben-Baruch et al. 2020 with the official defaults (gamma_neg 4, gamma_pos 1,
  clip 0.05, eps 1e-8). The official loss *sums* over batch and classes (mmaction2's BCE averages);
  ``reduction='mean'`` divides by the batch size instead, to keep learning rates comparable.
- ``DistillationLoss``: the paper's eq. 1, ``L = a*BCE(p, y) + (1-a)*MSE(sigmoid(p), k)`` with ``k`` the
  teacher's score vector for the same video.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import nn


@MODELS.register_module()
class AsymmetricLoss(nn.Module):
    def __init__(
        self,
        gamma_neg: float = 4.0,
        gamma_pos: float = 1.0,
        clip: float = 0.05,
        eps: float = 1e-8,
        reduction: str = "sum",
        loss_weight: float = 1.0,
    ):
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise ValueError(f"AsymmetricLoss reduction must be 'sum' or 'mean', got {reduction!r}")
        self.gamma_neg, self.gamma_pos, self.clip, self.eps = gamma_neg, gamma_pos, clip, eps
        self.reduction, self.loss_weight = reduction, loss_weight

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        y = label.float()
        p = torch.sigmoid(cls_score)
        p_neg = 1 - p
        if self.clip > 0:  # probability shifting of easy negatives
            p_neg = (p_neg + self.clip).clamp(max=1)
        loss = y * torch.log(p.clamp(min=self.eps)) + (1 - y) * torch.log(p_neg.clamp(min=self.eps))
        if self.gamma_neg > 0 or self.gamma_pos > 0:
            with torch.no_grad():  # the official default: focusing weights carry no gradient
                pt = p * y + p_neg * (1 - y)
                gamma = self.gamma_pos * y + self.gamma_neg * (1 - y)
                weight = torch.pow(1 - pt, gamma)
            loss = loss * weight
        total = -loss.sum()
        if self.reduction == "mean":
            total = total / cls_score.shape[0]
        return self.loss_weight * total


@MODELS.register_module()
class DistillationLoss(nn.Module):
    """``alpha * BCE(logits, labels) + (1 - alpha) * MSE(sigmoid(logits), teacher_scores)``."""

    uses_teacher = True

    def __init__(self, alpha: float = 0.5, loss_weight: float = 1.0):
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"DistillationLoss alpha must be in [0, 1], got {alpha}")
        self.alpha, self.loss_weight = alpha, loss_weight

    def forward(self, cls_score: torch.Tensor, label: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        hard = F.binary_cross_entropy_with_logits(cls_score, label.float())
        soft = F.mse_loss(torch.sigmoid(cls_score), teacher.float())
        return self.loss_weight * (self.alpha * hard + (1 - self.alpha) * soft)
