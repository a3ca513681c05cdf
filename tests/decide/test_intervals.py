"""Bootstrap intervals over source videos: each draw is the estimate (the mean F1 over the classes with
positives in that draw) of a resampled val (every clip of a drawn source video, as often as it was drawn);
paired draws share their resamples; the bounds are named and read off the draws by the set method."""

import numpy as np
import pytest

from tinyactions.challenge import metrics
from tinyactions.decide.intervals import METHODS, Bootstrap, bounds, smallest_detectable


def data(sources=20, clips=5, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = (rng.random((sources * clips, classes)) < 0.3).astype(int)
    predicted = np.where(rng.random(labels.shape) < 0.8, labels, 1 - labels)
    return labels, predicted, np.repeat([f"src{i}" for i in range(sources)], clips)


def test_each_draw_is_the_estimate_of_the_resampled_source_videos():
    labels, predicted, sources = data(classes=6)
    labels[:, 5] = 0
    labels[0, 5] = 1  # class 5: one positive, in src0; absent from every draw that leaves src0 out
    boot = Bootstrap.over(sources, draws=50, seed=3)
    draws = boot.draws(labels, predicted)
    names = np.unique(sources)
    for b in range(50):
        rows = np.concatenate([np.flatnonzero(sources == s) for s, k in zip(names, boot.weights[b]) for _ in range(k)])
        assert draws[b] == pytest.approx(metrics.per_class(labels[rows], predicted[rows]).macro_f1_present)
    assert (boot.weights[:, 0] == 0).any(), "some draw leaves src0, and class 5 with it, out"
    assert boot.point(labels, predicted) == pytest.approx(metrics.per_class(labels, predicted).macro_f1_present)
    ci = boot.interval(labels, predicted)
    assert set(ci) == {"lo", "hi"} and ci["lo"] < boot.point(labels, predicted) < ci["hi"]
    assert boot.weights.sum(1).tolist() == [20] * 50  # as many sources per draw as val has


@pytest.mark.parametrize("method", METHODS)
def test_a_perfect_predictor_is_1_with_the_interval_1_1(method):
    labels, _, sources = data()
    labels[:, 3] = 0  # a class val has no positive of: no F1 to estimate, and not a 0 in the mean
    boot = Bootstrap.over(sources, 200, 0, method=method)
    assert boot.point(labels, labels) == 1.0 and boot.interval(labels, labels) == {"lo": 1.0, "hi": 1.0}
    assert metrics.per_class(labels, labels).macro_f1 == 0.75  # the all-26-style mean: the pessimistic bound


def test_a_random_predictor_draws_around_its_point():
    """A predictor that knows nothing, on val of TinyVIRAT-v2's shape (200 source videos of 16 clips,
    long-tailed classes): the mean of the draws is within a quarter of a standard error of the point."""
    rng = np.random.default_rng(5)
    sources = np.repeat(np.arange(200), 16)
    prevalence = np.geomspace(0.002, 0.3, 26)  # the rarest classes are missing from some draws
    labels = (rng.random((len(sources), 26)) < prevalence).astype(int)
    predicted = (rng.random(labels.shape) < 0.2).astype(int)
    boot = Bootstrap.over(sources, 1000, 1)
    draws = boot.draws(labels, predicted)
    assert abs(draws.mean() - boot.point(labels, predicted)) < 0.25 * draws.std(ddof=1)


def test_paired_intervals_share_resamples_and_fewer_sources_widen_them():
    labels, predicted, sources = data()
    boot = Bootstrap.over(sources, draws=500, seed=0)
    assert boot.paired(labels, predicted, predicted) == {"lo": 0.0, "hi": 0.0}
    better = np.where(np.random.default_rng(1).random(labels.shape) < 0.5, labels, predicted)
    paired = boot.paired(labels, better, predicted)
    assert 0 < paired["lo"] < paired["hi"]  # better everywhere: the paired interval excludes 0
    separate = [boot.interval(labels, p) for p in (better, predicted)]
    assert paired["hi"] - paired["lo"] < sum(c["hi"] - c["lo"] for c in separate) / 2  # shared resamples cancel
    few = data(sources=5, clips=20)
    wide = Bootstrap.over(few[2], 500, 0).interval(few[0], few[1])
    narrow = Bootstrap.over(sources, 500, 0).interval(labels, predicted)
    assert wide["hi"] - wide["lo"] > narrow["hi"] - narrow["lo"]


def test_draws_are_seeded():
    labels, predicted, sources = data()
    assert Bootstrap.over(sources, 100, 4).interval(labels, predicted) == Bootstrap.over(sources, 100, 4).interval(
        labels, predicted
    )


def test_the_methods_read_the_draws_as_stated():
    draws = np.linspace(0.0, 1.0, 101)  # symmetric around 0.5
    percentile = bounds(draws, 0.5, 0.9, "percentile")
    assert percentile == pytest.approx({"lo": 0.05, "hi": 0.95})
    assert bounds(draws, 0.4, 0.9, "basic") == pytest.approx({"lo": 0.8 - 0.95, "hi": 0.8 - 0.05})  # reflected
    # no bias (the point is the draws' median) and no acceleration (a symmetric jackknife): BCa = percentile
    assert bounds(draws, 0.5, 0.9, "bca", np.array([0.4, 0.5, 0.6])) == pytest.approx(percentile)
    # a point above most draws: BCa moves both bounds up
    moved = bounds(draws, 0.7, 0.9, "bca", np.array([0.4, 0.5, 0.6]))
    assert moved["lo"] > percentile["lo"] and moved["hi"] > percentile["hi"]
    # a skewed statistic, against scipy's BCa on the same draws: bias and acceleration as Efron's
    from scipy import stats

    sample = np.random.default_rng(2).exponential(size=40)
    found = stats.bootstrap((sample,), np.mean, n_resamples=2000, method="BCa", confidence_level=0.9, random_state=7)
    jackknife = (sample.sum() - sample) / (len(sample) - 1)
    ours = bounds(found.bootstrap_distribution, sample.mean(), 0.9, "bca", jackknife)
    assert ours["lo"] == pytest.approx(found.confidence_interval.low, rel=1e-3)
    assert ours["hi"] == pytest.approx(found.confidence_interval.high, rel=1e-3)
    assert bounds(np.full(10, 0.3), 0.3, 0.9, "bca", np.full(3, 0.3)) == {"lo": 0.3, "hi": 0.3}
    with pytest.raises(ValueError, match="interval method 'student' is not one of percentile, basic, bca"):
        Bootstrap.over(np.arange(5), 100, 0, method="student")


def test_per_class_intervals_and_the_smallest_detectable_difference():
    labels, predicted, sources = data()
    labels[:, 3] = 0
    per_class = Bootstrap.over(sources, 300, 0).per_class(labels, predicted)
    f1 = metrics.per_class(labels, predicted).f1
    for k in range(3):
        assert per_class[k]["lo"] <= f1[k] <= per_class[k]["hi"]
    assert np.isnan(per_class[3]["lo"]) and np.isnan(per_class[3]["hi"])
    assert smallest_detectable(0.01) == pytest.approx((1.959964 + 0.841621) * 0.01, rel=1e-5)


def test_map_draws_are_the_map_of_the_resampled_clips():
    """All-ones weights give the plain mAP; a draw is the mAP of its resampled clips, a source drawn twice
    bringing its clips twice, each copy a clip of its own (the classes left without positives drop out of
    the mean, as mAP's do)."""
    from tinyactions.challenge.metrics import average_precision

    rng = np.random.default_rng(3)
    labels = (rng.random((30, 5)) < 0.3).astype(int)
    labels[:, 4] = 0
    labels[0, 4] = 1  # class 4: one positive, in source 0
    scores = rng.random((30, 5))
    sources = np.repeat(np.arange(6), 5)
    boot = Bootstrap.over(sources, draws=2, seed=0)
    boot = Bootstrap(boot.source_of, np.array([[1, 1, 1, 1, 1, 1], [0, 1, 1, 2, 1, 1]]), 0.95)
    full, dropped = boot.map_draws(labels, scores)
    assert full == pytest.approx(np.nanmean(average_precision(labels, scores)))
    doubled = np.r_[np.arange(5, 30), np.arange(15, 20)]  # source 0 out, source 3 twice
    resampled = average_precision(labels[doubled], scores[doubled])
    assert np.isnan(resampled[4]) and dropped == pytest.approx(np.nanmean(resampled))
    assert boot.map_draws(labels, scores, columns=[4])[1] != boot.map_draws(labels, scores, columns=[4])[1]  # NaN
    assert Bootstrap.over(sources, 200, 0).paired_map(labels, scores, scores) == {"lo": 0.0, "hi": 0.0}
    ci = Bootstrap.over(sources, 200, 0).map_interval(labels, scores)
    assert ci["lo"] <= full <= ci["hi"]
