"""Per-class thresholds: the F1 optimum, ties, shrinkage of rare classes, the frequency rule, the
vectorised fits, and their cross-validated use."""

import numpy as np
import pytest

from tests.conftest import threshold_config
from tinyactions.challenge import metrics
from tinyactions.decide import thresholds
from tinyactions.decide.settings import STRATEGIES


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) of one class, through the library's many-class fit."""
    t, f1 = thresholds.best_f1_thresholds(
        thresholds.Ranked.of(np.asarray(scores, float)[:, None], np.asarray(labels)[:, None])
    )
    return float(t[0]), float(f1[0])


def test_f1_threshold_finds_the_optimum_of_a_constructed_case():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2])
    labels = np.array([1, 1, 0, 1, 0, 0, 0])
    t, f1 = best_f1_threshold(scores, labels)
    assert 0.4 < t < 0.6 and f1 == pytest.approx(2 * 3 / (4 + 3))
    # brute force over every cut agrees
    best = max(metrics.per_class(labels[:, None], (scores[:, None] >= c).astype(int)).f1[0] for c in np.r_[scores, 1.0])
    assert f1 == pytest.approx(best)
    t0, f0 = best_f1_threshold(scores, np.zeros(7))
    assert f0 == 0 and (scores >= t0).sum() == 0, "no positives: predict nothing"


def test_ties_are_never_split():
    t, _ = best_f1_threshold(np.array([0.5, 0.5, 0.5, 0.1]), np.array([1, 0, 0, 0]))
    assert t < 0.5 or t > 0.5


def test_rare_classes_shrink_towards_the_prior_and_frequency_rule_is_monotone():
    rng = np.random.default_rng(0)
    scores = rng.random((200, 2))
    labels = np.zeros((200, 2), int)
    labels[scores[:, 0] > 0.8, 0] = 1  # frequent: optimum near 0.8
    labels[np.argmax(scores[:, 1]), 1] = 1  # one positive: optimum near the top score
    raw = thresholds.fit(scores, labels, threshold_config(strategy="f1", min_positives=0))
    shrunk = thresholds.fit(scores, labels, threshold_config(strategy="f1", min_positives=5, shrink_to="prior"))
    for k in range(2):
        w = labels[:, k].sum() / (labels[:, k].sum() + 5)
        assert shrunk[k] == pytest.approx(w * raw[k] + (1 - w) * 0.5)
    assert abs(shrunk[0] - raw[0]) < 0.05  # ~40 positives barely move
    assert abs(shrunk[1] - 0.5) < 0.5 * abs(raw[1] - 0.5)  # one positive: mostly the prior
    freq = np.array([0.4, 0.01, 0.1])
    t = thresholds.fit(
        np.zeros((3, 3)), np.zeros((3, 3)), threshold_config(strategy="frequency_set", low=0.3, high=0.6), freq
    )
    assert t[0] == pytest.approx(0.6) and t[1] == pytest.approx(0.3) and t[1] < t[2] < t[0]
    with pytest.raises(ValueError):
        threshold_config(strategy="magic")


def test_the_frequency_rule_is_fitted_and_finds_a_planted_slope():
    """Scores whose best threshold rises with the class's train frequency: the fitted (a, b) is the grid
    point with the highest macro F1 (checked against every grid point by brute force) and lands on the
    planted rule; its thresholds are monotone in frequency. Hand-set end points (frequency_set) stay
    what they say."""
    from tinyactions.challenge import metrics

    rng = np.random.default_rng(5)
    freq = np.array([0.5, 0.2, 0.05, 0.01, 0.002])
    g = thresholds.frequency_position(freq)
    planted = 0.1 + 0.4 * g  # the rarest class's best cut at 0.1, the most frequent's at 0.5
    scores = rng.random((400, 5))
    labels = (scores > planted[None, :]).astype(int)
    labels[rng.random((400, 5)) < 0.05] ^= 1  # some noise
    a, b = thresholds.fit_frequency(thresholds.Ranked.of(scores, labels), freq)
    brute = max(
        (metrics.per_class(labels, thresholds.predict(scores, x + y * g)).macro_f1, -y, -x)
        for x in thresholds.FREQUENCY_BASE
        for y in thresholds.FREQUENCY_SLOPE
    )
    assert (a, b) == (-brute[2], -brute[1])
    assert abs(a - 0.1) <= 0.04 and abs(b - 0.4) <= 0.06
    fitted = thresholds.fit(scores, labels, threshold_config(strategy="frequency"), freq)
    np.testing.assert_allclose(fitted, a + b * g)
    assert np.all(np.diff(fitted[np.argsort(freq)]) >= 0)  # frequent classes: higher thresholds
    flat = np.tile(rng.random((400, 1)), (1, 5))  # no class differs: the flattest best rule
    assert thresholds.fit_frequency(thresholds.Ranked.of(flat, (flat > 0.3).astype(int)), freq)[1] == 0.0


def test_rare_classes_shrink_towards_the_pooled_threshold_of_compressed_scores():
    """Averaged ensemble scores sit far below 0.5: shrinking rare classes towards 0.5 silences them,
    shrinking towards the best shared threshold keeps them."""
    rng = np.random.default_rng(3)
    labels = np.zeros((300, 3), int)
    labels[:90, 0] = 1
    labels[90:150, 1] = 1
    labels[150:153, 2] = 1  # rare: 3 positives
    scores = np.clip(0.05 + 0.25 * labels + rng.normal(0, 0.04, labels.shape), 0, 1)  # positives ~0.3
    pooled = thresholds.pooled_threshold(thresholds.Ranked.of(scores, labels))
    grid_f1 = [metrics.per_class(labels, (scores >= t).astype(int)).macro_f1 for t in thresholds.POOLED_GRID]
    assert metrics.per_class(labels, (scores >= pooled).astype(int)).macro_f1 == pytest.approx(max(grid_f1))
    assert 0.1 < pooled < 0.3
    to_prior = thresholds.fit(scores, labels, threshold_config(strategy="f1", min_positives=5, shrink_to="prior"))
    to_pooled = thresholds.fit(scores, labels, threshold_config(strategy="f1", min_positives=5, shrink_to="pooled"))
    w = 3 / (3 + 5)
    raw = best_f1_threshold(scores[:, 2], labels[:, 2])[0]
    assert to_pooled[2] == pytest.approx(w * raw + (1 - w) * pooled)
    assert thresholds.predict(scores, to_prior)[:, 2].sum() == 0  # silenced
    f1_prior = metrics.per_class(labels, thresholds.predict(scores, to_prior)).f1[2]
    f1_pooled = metrics.per_class(labels, thresholds.predict(scores, to_pooled)).f1[2]
    assert f1_prior == 0 and f1_pooled > 0.8
    with pytest.raises(ValueError):
        threshold_config(strategy="f1", shrink_to="median")


def test_cross_validation_is_below_in_sample_on_noise():
    rng = np.random.default_rng(1)
    scores, labels = rng.random((120, 5)), (rng.random((120, 5)) < 0.1).astype(int)
    cfg = threshold_config(strategy="f1", min_positives=0)
    in_sample = metrics.per_class(labels, thresholds.predict(scores, thresholds.fit(scores, labels, cfg))).macro_f1
    folds = np.arange(120) % 5
    held_out = (scores >= thresholds.cross_validated_thresholds(scores, labels, cfg, None, folds)).astype(int)
    assert metrics.per_class(labels, held_out).macro_f1 < in_sample


def test_vectorised_fits_equal_brute_force_on_ties_nan_and_fold_subsets():
    """The ranking is made once; thresholds fitted on any subset of its rows equal those fitted on the
    subset itself, and each equals the best cut found by trying every one."""
    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.integers(2, 40))
        scores = np.round(rng.random((n, 26)), int(rng.integers(1, 3)))  # many ties
        scores[rng.random((n, 26)) < 0.05] = np.nan  # unreadable videos
        labels = (rng.random((n, 26)) < rng.random(26)).astype(np.int8)
        ranked = thresholds.Ranked.of(scores, labels)
        mask = rng.random(n) < 0.7
        mask[0] = True
        for config in (
            threshold_config(strategy="f1"),
            threshold_config(strategy="f1", shrink_to="prior", min_positives=0),
        ):
            np.testing.assert_array_equal(
                thresholds.fit_ranked(ranked.subset(mask), 26, config),
                thresholds.fit(scores[mask], labels[mask], config),
            )
        fitted_thresholds, f1 = thresholds.best_f1_thresholds(ranked)
        for k in range(26):
            cuts = np.r_[scores[:, k][~np.isnan(scores[:, k])], np.inf]
            brute = max(metrics.per_class(labels[:, [k]], (scores[:, [k]] >= c).astype(int)).f1[0] for c in cuts)
            got = metrics.per_class(labels[:, [k]], (scores[:, [k]] >= fitted_thresholds[k]).astype(int)).f1[0]
            assert f1[k] == pytest.approx(brute) and got == pytest.approx(brute)
        pooled = thresholds.pooled_threshold(ranked)
        grid_f1 = [
            metrics.per_class(labels, (np.nan_to_num(scores, nan=-1) >= g).astype(int)).macro_f1
            for g in thresholds.POOLED_GRID
        ]
        assert pooled == thresholds.POOLED_GRID[int(np.argmax(grid_f1))]


def test_cross_validated_thresholds_are_the_held_out_folds_fits():
    rng = np.random.default_rng(3)
    labels = (rng.random((60, 26)) < 0.3).astype(int)
    scores = np.clip(labels * 0.3 + rng.random((60, 26)) * 0.7, 0, 1)
    folds = np.arange(60) % 3
    cfg = threshold_config(strategy="f1")
    rows = thresholds.cross_validated_thresholds(scores, labels, cfg, None, folds)
    for f in range(3):
        fitted = thresholds.fit(scores[folds != f], labels[folds != f], cfg, None)
        np.testing.assert_allclose(rows[folds == f], np.broadcast_to(fitted, rows[folds == f].shape))
    assert len({tuple(rows[folds == f][0]) for f in range(3)}) == 3  # each fold has its own fit


def test_every_strategy_the_settings_offer_has_one_fit_which_returns_its_parameters():
    """One dispatch: each name of thresholds.strategy is one entry of RULES; fit_rule returns the thresholds
    and the rule's fitted parameters, and fit/fit_ranked return the same thresholds."""
    assert tuple(thresholds.RULES) == STRATEGIES
    rng = np.random.default_rng(3)
    labels = (rng.random((80, 26)) < np.linspace(0.02, 0.5, 26)).astype(int)
    scores = np.clip(labels * 0.4 + rng.random((80, 26)) * 0.6, 0, 1)
    freq = np.linspace(0.01, 0.6, 26)
    ranked = thresholds.Ranked.of(scores, labels)
    for strategy in STRATEGIES:
        config = threshold_config(strategy=strategy)
        fitted = thresholds.fit_rule(ranked, 26, config, freq)
        assert fitted.thresholds.shape == (26,) and np.array_equal(
            fitted.thresholds, thresholds.fit(scores, labels, config, freq)
        )
        assert list(fitted.params) == {"frequency": ["a", "b"], "flat": ["t"]}.get(strategy, []), strategy
    a, b = thresholds.fit_frequency(ranked, freq)
    frequency = thresholds.fit_rule(ranked, 26, threshold_config(strategy="frequency"), freq)
    assert frequency.params == {"a": a, "b": b}
    assert np.allclose(frequency.thresholds, a + b * thresholds.frequency_position(freq))
    with pytest.raises(ValueError, match="needs the train frequency"):
        thresholds.fit_rule(ranked, 26, threshold_config(strategy="frequency_set"), None)


def test_the_flat_rule_is_one_fitted_threshold_for_every_class():
    """The baseline of the paper's claim: the one threshold maximising the macro F1, the same for every class."""
    rng = np.random.default_rng(4)
    labels = (rng.random((200, 26)) < np.linspace(0.02, 0.5, 26)).astype(int)
    scores = np.clip(labels * 0.3 + rng.random((200, 26)) * 0.5, 0, 1)
    ranked = thresholds.Ranked.of(scores, labels)
    flat = thresholds.fit_rule(ranked, 26, threshold_config(strategy="flat"), None)
    assert np.unique(flat.thresholds).tolist() == [flat.params["t"]] == [thresholds.pooled_threshold(ranked)]
    macro = {t: metrics.per_class(labels, (scores >= t).astype(int)).macro_f1 for t in thresholds.POOLED_GRID.tolist()}
    assert macro[flat.params["t"]] == max(macro.values())
