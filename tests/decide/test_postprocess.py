"""Post-processing: one positive per group of exclusive classes, and groups derived from the training
labels."""

import numpy as np
import pandas as pd
import pytest

from tinyactions.challenge.annotations import CLASSES
from tinyactions.challenge.groups import validate_groups
from tinyactions.decide import postprocess


def test_postprocess_keeps_exactly_one_positive_per_group():
    predicted = np.array([[1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    scores = np.array([[0.9, 0.95, 0.7, 0.1], [0.1, 0.6, 0.8, 0.9], [0.1, 0.2, 0.3, 0.9], [0.2, 0.2, 0.2, 0.2]])
    out = postprocess.apply(predicted, scores, [[0, 1, 2]])
    assert out.tolist() == [[0, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert (out[:, :3].sum(1) <= 1).all()


def test_postprocess_by_margin_keeps_the_class_furthest_above_its_own_threshold():
    predicted = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]])
    scores = np.array([[0.9, 0.5, 0.1], [0.1, 0.7, 0.45], [0.85, 0.1, 0.5]])
    fitted_thresholds = np.array([0.8, 0.2, 0.4])  # a frequent class 0 with a high threshold, a rare class 1
    by_score = postprocess.apply(predicted, scores, [[0, 1, 2]])
    by_margin = postprocess.apply(predicted, scores, [[0, 1, 2]], fitted_thresholds)
    assert by_score.tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 0]]
    assert by_margin.tolist() == [[0, 1, 0], [0, 1, 0], [0, 0, 1]]  # 0.1 vs 0.3; 0.5 vs 0.05; 0.05 vs 0.1
    per_video = np.array([[0.8, 0.2, 0.4], [0.1, 0.6, 0.3], [0.8, 0.2, 0.4]])  # thresholds of each video's fold
    assert postprocess.apply(predicted, scores, [[0, 1, 2]], per_video).tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 1]]


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
        validate_groups([["Push", "Pull"], ["Pull", "Misc"]])
    with pytest.raises(ValueError, match="unknown"):
        validate_groups([["Push", "Dancing"]])
