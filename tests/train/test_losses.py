"""Losses and the multi-label head against hand-computed values."""

import math

import pytest
import torch

import tinyactions.train.registry  # noqa: F401
from tinyactions.train.heads import MultiLabelHead
from tinyactions.train.losses import AsymmetricLoss, DistillationLoss


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_asl_matches_its_formula_by_hand():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
    labels = torch.tensor([[1, 0], [0, 1]])
    expected = 0.0
    for x, y in zip(logits.flatten().tolist(), labels.flatten().tolist()):
        p = sigmoid(x)
        if y:  # positive: -(1 - p)^gamma_pos * log(p)
            expected += (1 - p) ** 1 * -math.log(p)
        else:  # negative with probability shifting: p_m = max(p - clip, 0); -(p_m)^gamma_neg * log(1 - p_m)
            pm = max(p - 0.05, 0.0)
            expected += pm**4 * -math.log(1 - pm)
    loss = AsymmetricLoss()(logits, labels)  # official defaults, summed
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert AsymmetricLoss(reduction="mean")(logits, labels).item() == pytest.approx(expected / 2, rel=1e-6)


def test_asl_without_focusing_or_clip_is_summed_bce():
    logits, labels = torch.randn(3, 5), (torch.rand(3, 5) > 0.5).long()
    asl = AsymmetricLoss(gamma_neg=0, gamma_pos=0, clip=0)(logits, labels)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float(), reduction="sum")
    assert asl.item() == pytest.approx(bce.item(), rel=1e-5)


def test_kd_loss_matches_formula_and_reduces_to_bce_at_alpha_one():
    logits = torch.tensor([[0.0, 2.0]])
    labels = torch.tensor([[1, 0]])
    teacher = torch.tensor([[0.9, 0.2]])
    bce = (-math.log(sigmoid(0.0)) - math.log(1 - sigmoid(2.0))) / 2
    mse = ((sigmoid(0.0) - 0.9) ** 2 + (sigmoid(2.0) - 0.2) ** 2) / 2
    assert DistillationLoss(alpha=0.3)(logits, labels, teacher).item() == pytest.approx(0.3 * bce + 0.7 * mse, rel=1e-6)
    assert DistillationLoss(alpha=1.0)(logits, labels, teacher).item() == pytest.approx(bce, rel=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        DistillationLoss(alpha=1.5)


def test_head_averages_sigmoid_scores_over_views():
    head = MultiLabelHead(num_classes=2, in_channels=4)
    scores = torch.tensor([[0.0, 2.0], [2.0, -2.0]])  # one video, two views
    averaged = head.average_clip(scores, num_segs=2)
    expected = torch.tensor([[(0.5 + sigmoid(2.0)) / 2, (sigmoid(2.0) + sigmoid(-2.0)) / 2]])
    assert torch.allclose(averaged, expected)
    assert not torch.allclose(averaged.sum(), torch.tensor(1.0)), "not a softmax"
