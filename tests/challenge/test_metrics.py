"""The challenge metric against scikit-learn, and the documented edge cases."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, precision_recall_fscore_support

from tinyactions.challenge.metrics import average_precision, micro_f1, per_class, samples_f1, summary


@pytest.mark.parametrize("seed", range(20))
def test_matches_scikit_learn_on_random_cases(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 60)), int(rng.integers(1, 30))
    t = (rng.random((n, k)) < rng.uniform(0.02, 0.5)).astype(int)
    p = (rng.random((n, k)) < rng.uniform(0.02, 0.5)).astype(int)
    ours = per_class(t, p)
    precision, recall, f1, support = precision_recall_fscore_support(t, p, average=None, zero_division=0)
    np.testing.assert_allclose(ours.precision, precision)
    np.testing.assert_allclose(ours.recall, recall)
    np.testing.assert_allclose(ours.f1, f1)
    np.testing.assert_array_equal(ours.support, support)
    assert ours.macro_f1 == pytest.approx(f1_score(t, p, average="macro", zero_division=0))
    assert micro_f1(t, p) == pytest.approx(f1_score(t, p, average="micro", zero_division=0))
    assert samples_f1(t, p) == pytest.approx(f1_score(t, p, average="samples", zero_division=0))


def test_empty_class_scores_zero_and_present_mean_excludes_it():
    t = np.array([[1, 0], [0, 0]])
    p = np.array([[1, 0], [0, 0]])  # class 1: no positives, no predictions
    s = per_class(t, p)
    assert s.f1.tolist() == [1.0, 0.0]
    assert s.macro_f1 == 0.5 and s.macro_f1_present == 1.0


def test_hand_computed_values():
    t = np.array([[1, 1], [1, 0], [0, 1], [0, 0]])
    p = np.array([[1, 0], [0, 0], [1, 1], [1, 0]])
    s = per_class(t, p)
    # class 0: tp 1, predicted 3, support 2 -> P 1/3, R 1/2, F1 0.4; class 1: tp 1, pred 1, sup 2 -> F1 2/3
    np.testing.assert_allclose(s.precision, [1 / 3, 1.0])
    np.testing.assert_allclose(s.recall, [0.5, 0.5])
    np.testing.assert_allclose(s.f1, [0.4, 2 / 3])
    assert summary(t, p, classes=("a", "b"))["per_class"]["b"]["support"] == 2


def test_rejects_non_binary_and_mismatched_inputs():
    with pytest.raises(ValueError, match="0/1"):
        per_class(np.array([[0.2]]), np.array([[1]]))
    with pytest.raises(ValueError, match="differ in shape"):
        per_class(np.zeros((2, 3)), np.zeros((3, 2)))


def test_average_precision_matches_scikit_learn():
    rng = np.random.default_rng(0)
    t = (rng.random((80, 5)) < 0.3).astype(int)
    t[:, 4] = 0
    s = rng.random((80, 5))
    ap = average_precision(t, s)
    for k in range(4):
        assert ap[k] == pytest.approx(average_precision_score(t[:, k], s[:, k]))
    assert np.isnan(ap[4])
