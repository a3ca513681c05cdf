"""Bootstrap intervals over source videos: each draw is the macro F1 of a resampled val (every clip of a
drawn source video, as often as it was drawn), paired draws share their resamples."""

import numpy as np
import pytest

from tinyactions.challenge import metrics
from tinyactions.decide.intervals import Bootstrap


def data(sources=20, clips=5, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = (rng.random((sources * clips, classes)) < 0.3).astype(int)
    predicted = np.where(rng.random(labels.shape) < 0.8, labels, 1 - labels)
    return labels, predicted, np.repeat([f"src{i}" for i in range(sources)], clips)


def test_each_draw_is_the_f1_of_the_resampled_source_videos():
    labels, predicted, sources = data()
    boot = Bootstrap.over(sources, draws=50, seed=3)
    draws = boot.draws(labels, predicted)
    names = np.unique(sources)
    for b in (0, 7, 49):
        rows = np.concatenate([np.flatnonzero(sources == s) for s, k in zip(names, boot.weights[b]) for _ in range(k)])
        assert draws[b] == pytest.approx(metrics.per_class(labels[rows], predicted[rows]).macro_f1)
    low, high = boot.interval(labels, predicted)
    assert low < metrics.per_class(labels, predicted).macro_f1 < high
    assert boot.weights.sum(1).tolist() == [20] * 50  # as many sources per draw as val has


def test_paired_intervals_share_resamples_and_fewer_sources_widen_them():
    labels, predicted, sources = data()
    boot = Bootstrap.over(sources, draws=500, seed=0)
    assert boot.paired(labels, predicted, predicted) == [0.0, 0.0]
    better = np.where(np.random.default_rng(1).random(labels.shape) < 0.5, labels, predicted)
    low, high = boot.paired(labels, better, predicted)
    assert 0 < low < high  # better everywhere: the paired interval excludes 0
    separate = [boot.interval(labels, p) for p in (better, predicted)]
    assert high - low < sum(h - lo for lo, h in separate) / 2  # the shared resamples cancel most of the noise
    few = data(sources=5, clips=20)
    wide = Bootstrap.over(few[2], 500, 0).interval(few[0], few[1])
    narrow = Bootstrap.over(sources, 500, 0).interval(labels, predicted)
    assert wide[1] - wide[0] > narrow[1] - narrow[0]


def test_draws_are_seeded():
    labels, predicted, sources = data()
    assert Bootstrap.over(sources, 100, 4).interval(labels, predicted) == Bootstrap.over(sources, 100, 4).interval(
        labels, predicted
    )


def test_map_draws_weigh_each_video_by_its_source_draws():
    """All-ones weights give the plain mAP; a draw that leaves a source out gives the mAP without its
    videos (the classes left without positives drop out of the mean, as mAP's do)."""
    from tinyactions.challenge.metrics import average_precision
    from tinyactions.decide.intervals import Bootstrap

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

    def block_ap(y, s):  # tied scores (a video's copies) as one block: precision at its end
        found = precision_sum = 0.0
        for value in np.unique(s)[::-1]:
            block = s == value
            found += y[block].sum()
            precision_sum += y[block].sum() * found / (s >= value).sum()
        return precision_sum / y.sum() if y.sum() else np.nan

    hand = [block_ap(labels[doubled, k], scores[doubled, k]) for k in range(5)]
    assert np.isnan(hand[4]) and dropped == pytest.approx(np.mean(hand[:4]))
    assert boot.map_draws(labels, scores, columns=[4])[1] != boot.map_draws(labels, scores, columns=[4])[1]  # NaN
    lo, hi = Bootstrap.over(sources, 200, 0).paired_map(labels, scores, scores)
    assert lo == hi == 0.0
