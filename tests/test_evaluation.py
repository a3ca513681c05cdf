"""Thresholds, ensembles, post-processing and the submission file."""

import numpy as np
import pandas as pd
import pytest

from tests.conftest import threshold_config
from tinyactions import ensemble as E
from tinyactions import metrics as M
from tinyactions import postprocess
from tinyactions import thresholds as T
from tinyactions.annotations import CLASSES
from tinyactions.scores import SCORE_COLUMNS
from tinyactions.submission import format_answer, parse_answer


def test_f1_threshold_finds_the_optimum_of_a_constructed_case():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2])
    labels = np.array([1, 1, 0, 1, 0, 0, 0])
    t, f1 = T.best_f1_threshold(scores, labels)
    assert 0.4 < t < 0.6 and f1 == pytest.approx(2 * 3 / (4 + 3))
    # brute force over every cut agrees
    best = max(M.per_class(labels[:, None], (scores[:, None] >= c).astype(int)).f1[0] for c in np.r_[scores, 1.0])
    assert f1 == pytest.approx(best)
    t0, f0 = T.best_f1_threshold(scores, np.zeros(7))
    assert f0 == 0 and (scores >= t0).sum() == 0, "no positives: predict nothing"


def test_ties_are_never_split():
    t, _ = T.best_f1_threshold(np.array([0.5, 0.5, 0.5, 0.1]), np.array([1, 0, 0, 0]))
    assert t < 0.5 or t > 0.5


def test_rare_classes_shrink_towards_the_prior_and_frequency_rule_is_monotone():
    rng = np.random.default_rng(0)
    scores = rng.random((200, 2))
    labels = np.zeros((200, 2), int)
    labels[scores[:, 0] > 0.8, 0] = 1  # frequent: optimum near 0.8
    labels[np.argmax(scores[:, 1]), 1] = 1  # one positive: optimum near the top score
    raw = T.fit(scores, labels, threshold_config(strategy="f1", min_positives=0))
    shrunk = T.fit(scores, labels, threshold_config(strategy="f1", min_positives=5, shrink_to="prior"))
    for k in range(2):
        w = labels[:, k].sum() / (labels[:, k].sum() + 5)
        assert shrunk[k] == pytest.approx(w * raw[k] + (1 - w) * 0.5)
    assert abs(shrunk[0] - raw[0]) < 0.05  # ~40 positives barely move
    assert abs(shrunk[1] - 0.5) < 0.5 * abs(raw[1] - 0.5)  # one positive: mostly the prior
    freq = np.array([0.4, 0.01, 0.1])
    t = T.fit(np.zeros((3, 3)), np.zeros((3, 3)), threshold_config(strategy="frequency_set", low=0.3, high=0.6), freq)
    assert t[0] == pytest.approx(0.6) and t[1] == pytest.approx(0.3) and t[1] < t[2] < t[0]
    with pytest.raises(ValueError):
        threshold_config(strategy="magic")


def test_the_frequency_rule_is_fitted_and_finds_a_planted_slope():
    """Scores whose best threshold rises with the class's train frequency: the fitted (a, b) is the grid
    point with the highest macro F1 (checked against every grid point by brute force) and lands on the
    planted rule; its thresholds are monotone in frequency. Hand-set end points (frequency_set) stay
    what they say."""
    from tinyactions import metrics as M

    rng = np.random.default_rng(5)
    freq = np.array([0.5, 0.2, 0.05, 0.01, 0.002])
    g = T.frequency_position(freq)
    planted = 0.1 + 0.4 * g  # the rarest class's best cut at 0.1, the most frequent's at 0.5
    scores = rng.random((400, 5))
    labels = (scores > planted[None, :]).astype(int)
    labels[rng.random((400, 5)) < 0.05] ^= 1  # some noise
    a, b = T.fit_frequency(T.Ranked.of(scores, labels), freq)
    brute = max(
        (M.per_class(labels, T.predict(scores, x + y * g)).macro_f1, -y, -x)
        for x in T.FREQUENCY_BASE
        for y in T.FREQUENCY_SLOPE
    )
    assert (a, b) == (-brute[2], -brute[1])
    assert abs(a - 0.1) <= 0.04 and abs(b - 0.4) <= 0.06
    fitted = T.fit(scores, labels, threshold_config(strategy="frequency"), freq)
    np.testing.assert_allclose(fitted, a + b * g)
    assert np.all(np.diff(fitted[np.argsort(freq)]) >= 0)  # frequent classes: higher thresholds
    flat = np.tile(rng.random((400, 1)), (1, 5))  # no class differs: the flattest best rule
    assert T.fit_frequency(T.Ranked.of(flat, (flat > 0.3).astype(int)), freq)[1] == 0.0


def test_rare_classes_shrink_towards_the_pooled_threshold_of_compressed_scores():
    """Averaged ensemble scores sit far below 0.5: shrinking rare classes towards 0.5 silences them,
    shrinking towards the best shared threshold keeps them."""
    rng = np.random.default_rng(3)
    labels = np.zeros((300, 3), int)
    labels[:90, 0] = 1
    labels[90:150, 1] = 1
    labels[150:153, 2] = 1  # rare: 3 positives
    scores = np.clip(0.05 + 0.25 * labels + rng.normal(0, 0.04, labels.shape), 0, 1)  # positives ~0.3
    pooled = T.pooled_threshold(T.Ranked.of(scores, labels))
    grid_f1 = [M.per_class(labels, (scores >= t).astype(int)).macro_f1 for t in T.POOLED_GRID]
    assert M.per_class(labels, (scores >= pooled).astype(int)).macro_f1 == pytest.approx(max(grid_f1))
    assert 0.1 < pooled < 0.3
    to_prior = T.fit(scores, labels, threshold_config(strategy="f1", min_positives=5, shrink_to="prior"))
    to_pooled = T.fit(scores, labels, threshold_config(strategy="f1", min_positives=5, shrink_to="pooled"))
    w = 3 / (3 + 5)
    raw = T.best_f1_threshold(scores[:, 2], labels[:, 2])[0]
    assert to_pooled[2] == pytest.approx(w * raw + (1 - w) * pooled)
    assert T.predict(scores, to_prior)[:, 2].sum() == 0  # silenced
    f1_prior = M.per_class(labels, T.predict(scores, to_prior)).f1[2]
    f1_pooled = M.per_class(labels, T.predict(scores, to_pooled)).f1[2]
    assert f1_prior == 0 and f1_pooled > 0.8
    with pytest.raises(ValueError):
        threshold_config(strategy="f1", shrink_to="median")


def test_cross_validation_is_below_in_sample_on_noise():
    rng = np.random.default_rng(1)
    scores, labels = rng.random((120, 5)), (rng.random((120, 5)) < 0.1).astype(int)
    cfg = threshold_config(strategy="f1", min_positives=0)
    in_sample = M.per_class(labels, T.predict(scores, T.fit(scores, labels, cfg))).macro_f1
    folds = np.arange(120) % 5
    held_out = (scores >= T.cross_validated_thresholds(scores, labels, cfg, None, folds)).astype(int)
    assert M.per_class(labels, held_out).macro_f1 < in_sample


def test_vectorised_fits_equal_brute_force_on_ties_nan_and_fold_subsets():
    """The ranking is made once; thresholds fitted on any subset of its rows equal those fitted on the
    subset itself, and each equals the best cut found by trying every one."""
    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.integers(2, 40))
        scores = np.round(rng.random((n, 26)), int(rng.integers(1, 3)))  # many ties
        scores[rng.random((n, 26)) < 0.05] = np.nan  # unreadable videos
        labels = (rng.random((n, 26)) < rng.random(26)).astype(np.int8)
        ranked = T.Ranked.of(scores, labels)
        mask = rng.random(n) < 0.7
        mask[0] = True
        for config in (
            threshold_config(strategy="f1"),
            threshold_config(strategy="f1", shrink_to="prior", min_positives=0),
        ):
            np.testing.assert_array_equal(
                T.fit_ranked(ranked.subset(mask), 26, config), T.fit(scores[mask], labels[mask], config)
            )
        thresholds, f1 = T.best_f1_thresholds(ranked)
        for k in range(26):
            cuts = np.r_[scores[:, k][~np.isnan(scores[:, k])], np.inf]
            brute = max(M.per_class(labels[:, [k]], (scores[:, [k]] >= c).astype(int)).f1[0] for c in cuts)
            got = M.per_class(labels[:, [k]], (scores[:, [k]] >= thresholds[k]).astype(int)).f1[0]
            assert f1[k] == pytest.approx(brute) and got == pytest.approx(brute)
        pooled = T.pooled_threshold(ranked)
        grid_f1 = [
            M.per_class(labels, (np.nan_to_num(scores, nan=-1) >= g).astype(int)).macro_f1 for g in T.POOLED_GRID
        ]
        assert pooled == T.POOLED_GRID[int(np.argmax(grid_f1))]


def test_postprocess_keeps_exactly_one_positive_per_group():
    predicted = np.array([[1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    scores = np.array([[0.9, 0.95, 0.7, 0.1], [0.1, 0.6, 0.8, 0.9], [0.1, 0.2, 0.3, 0.9], [0.2, 0.2, 0.2, 0.2]])
    out = postprocess.apply(predicted, scores, [[0, 1, 2]])
    assert out.tolist() == [[0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert (out[:, :3].sum(1) <= 1).all()


def test_postprocess_by_margin_keeps_the_class_furthest_above_its_own_threshold():
    predicted = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])
    scores = np.array([[0.9, 0.5, 0.1], [0.1, 0.7, 0.45], [0.85, 0.1, 0.5]])
    thresholds = np.array([0.8, 0.2, 0.4])  # a frequent class 0 with a high threshold, a rare class 1
    by_score = postprocess.apply(predicted, scores, [[0, 1, 2]])
    by_margin = postprocess.apply(predicted, scores, [[0, 1, 2]], thresholds)
    assert by_score.tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 0]]
    assert by_margin.tolist() == [[0, 1, 0], [0, 1, 0], [0, 0, 1]]  # 0.1 vs 0.3; 0.5 vs 0.05; 0.05 vs 0.1
    per_video = np.array([[0.8, 0.2, 0.4], [0.1, 0.6, 0.3], [0.8, 0.2, 0.4]])  # thresholds of each video's fold
    assert postprocess.apply(predicted, scores, [[0, 1, 2]], per_video).tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 1]]


def test_cross_validated_thresholds_are_the_held_out_folds_fits():
    rng = np.random.default_rng(3)
    labels = (rng.random((60, 26)) < 0.3).astype(int)
    scores = np.clip(labels * 0.3 + rng.random((60, 26)) * 0.7, 0, 1)
    folds = np.arange(60) % 3
    cfg = threshold_config(strategy="f1")
    rows = T.cross_validated_thresholds(scores, labels, cfg, None, folds)
    for f in range(3):
        fitted = T.fit(scores[folds != f], labels[folds != f], cfg, None)
        np.testing.assert_allclose(rows[folds == f], np.broadcast_to(fitted, rows[folds == f].shape))
    assert len({tuple(rows[folds == f][0]) for f in range(3)}) == 3  # each fold has its own fit


def test_groups_derive_from_never_co_occurring_classes_and_validate():
    names = ["activity_walking", "activity_standing", "activity_carrying", "Talking"]
    co = pd.DataFrame(0, index=list(CLASSES), columns=list(CLASSES))
    for c, n in zip(names, (50, 40, 30, 20)):
        co.loc[c, c] = n
    co.loc["activity_carrying", "activity_walking"] = co.loc["activity_walking", "activity_carrying"] = 10
    co.loc["Talking", "activity_standing"] = co.loc["activity_standing", "Talking"] = 5
    groups = postprocess.derive_groups(co, videos=100, min_expected=3)
    assert groups == [["activity_walking", "activity_standing"], ["activity_carrying", "Talking"]]
    co.loc["Misc", "Misc"] = 2  # rare: never seen with walking, but independence predicts only 1 shared video
    assert postprocess.derive_groups(co, videos=100, min_expected=3) == groups
    with pytest.raises(ValueError, match="overlaps"):
        postprocess.validate_groups([["Push", "Pull"], ["Pull", "Misc"]])
    with pytest.raises(ValueError, match="unknown"):
        postprocess.validate_groups([["Push", "Dancing"]])


def table(run, epochs, ids, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for e in epochs:
        for split in ("val", "test"):
            for i in ids:
                rows.append(
                    {
                        "run": run,
                        "epoch": e,
                        "split": split,
                        "id": i,
                        "sample_id": i,
                        "readable": True,
                        **dict(zip(SCORE_COLUMNS, rng.random(26))),
                    }
                )
    return pd.DataFrame(rows)


def test_ensemble_aligns_members_by_id_not_row_order():
    ids = ["00000", "00001", "00002"]
    a = table("a", [1, 2], ids, 0)
    shuffled = a.sample(frac=1.0, random_state=0)
    np.testing.assert_array_equal(E.split_matrix(a, "val", 2, ids), E.split_matrix(shuffled, "val", 2, ids))
    m = E.split_matrix(a, "val", 1, ids)
    assert np.allclose(E.average([m, 3 * m], [1, 1]), 2 * m) and np.allclose(E.average([m, 3 * m], [3, 1]), 1.5 * m)
    labels = (m >= 0.5).astype(int)  # epoch 1 is perfect at 0.5 by construction
    assert E.resolve(E.Member.parse("a@best"), a, ids, labels, best_by="mAP", key="k") == 1
    assert E.resolve(E.Member.parse("a@best"), a, ids, labels, best_by="f1", key="k") == 1
    assert E.resolve(E.Member.parse("a@last"), a, ids, labels, best_by="mAP", key="k") == 2
    with pytest.raises(ValueError, match="not run@epoch"):
        E.Member.parse("a-best")
    with pytest.raises(KeyError, match="lack val ids"):
        E.split_matrix(a, "val", 1, ids + ["00009"])


def test_answer_has_every_test_id_in_order_including_unreadable():
    ids = ["00002", "00000", "00001"]
    predicted = np.zeros((3, 26))
    predicted[0, 3] = 1
    predicted[2] = np.nan  # an unreadable video: no scores, all-zero line
    text = format_answer(ids, predicted)
    lines = text.splitlines()
    assert [line.split(" ")[0] for line in lines] == ["00000", "00001", "00002"]
    assert lines[2] == "00002 " + " ".join(["0"] * 3 + ["1"] + ["0"] * 22)
    assert lines[1] == "00001 " + " ".join(["0"] * 26)
    parsed = parse_answer(text)
    assert len(parsed) == 3 and parsed["00002"][3] == 1
    with pytest.raises(ValueError, match="duplicate"):
        format_answer(["00000", "00000"], np.zeros((2, 26)))
    with pytest.raises(ValueError, match="malformed"):
        parse_answer("00000 1 0\n")


def test_ablation_table3_says_which_number_is_honest():
    from tinyactions.report import ablation_markdown

    board = {
        "runs": {"ircsn_lr": {"best_epoch": 3, "f1": 0.2, "f1_last_epochs": 0.19}},
        "single_best": {
            "checkpoint": "ircsn_lr@3",
            "run": "ircsn_lr",
            "mAP_in_sample": 0.41,
            "f1_thresholds_in_sample": 0.26,
            "f1_selected_cv": 0.21,
        },
        "ensemble": {
            "members": ["ircsn_lr@3", "ircsn_lr@2"],
            "mAP_in_sample": 0.45,
            "f1_at_0.5_in_sample": 0.21,
            "f1_at_0.5_cv": 0.2,
            "f1_thresholds_in_sample": 0.3,
            "f1_thresholds_cv": 0.25,
            "f1_postprocess_in_sample": 0.31,
            "f1_postprocess_cv": 0.255,
            "postprocess_keep": "score",
            "postprocess_other_keep": {"keep": "margin", "in_sample": 0.32, "cv": 0.26},
            "threshold_strategy": "f1",
            "strategies": {
                "fixed": {"in_sample": 0.21, "cv": 0.2},
                "f1": {"in_sample": 0.3, "cv": 0.25},
                "frequency": {"in_sample": 0.28, "cv": 0.24, "a_b_in_sample": [0.1, 0.3], "a_b_per_fold": [[0.1, 0.2]]},
            },
            "groups": [["a", "b"]],
            "group_gain_cv": {"a | b": 0.005},
            "groups_applied": [["a", "b"]],
        },
        "greedy_selection": {"f1_cv": 0.27},
        "folds": {"k": 5, "source_videos": 40},
        "f1": 0.255,
        "f1_in_sample": 0.31,
    }
    from tests.conftest import run_spec

    text = ablation_markdown(board, {"ircsn_lr": run_spec()})
    assert "every such choice made on 4 of 5 folds of val, grouped by source video (40 videos)" in text
    assert (
        "| single best checkpoint + thresholds (ircsn_lr@3 in-sample; chosen inside each fold for the "
        "cross-validated column) | 0.410 | 0.260 | 0.210 |" in text
    )
    assert "| ensemble of 2 members, at 0.5 | 0.450 | 0.210 | 0.200 |" in text
    assert "| + thresholds (f1) | – | 0.300 | 0.250 |" in text
    assert "| + post-processing (all 1 groups, keeping the top score, the seed) | – | 0.310 | 0.255 |" in text
    assert (
        "| + post-processing keeping the largest margin over threshold, ours instead (ablation) | – | 0.320 | 0.260 |"
        in text
    )
    assert "| **submission rule** (thresholds + groups as postprocess.apply says) | – | 0.310 | **0.255** |" in text
    assert "| greedy member selection (beyond the seed) | – | – | 0.270 |" in text
    assert "| per-class F1 optimum (shrunk for rare classes) (submission) | 0.300 | 0.250 |" in text
    assert "| fixed (one threshold) | 0.210 | 0.200 |" in text
    assert (
        "| frequency, fitted (the seed's rule): t = 0.10 + 0.30 g on all of val; (a, b) per fold (0.10, 0.20) "
        "| 0.280 | 0.240 |" in text
    )
    assert "a | b: +0.005" in text
