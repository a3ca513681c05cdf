"""Groups of mutually exclusive classes: checked against the class map, and the pairs the training data
shows together."""

import pandas as pd
import pytest

from tinyactions.challenge.annotations import CLASSES
from tinyactions.challenge.groups import seen_together, validate_groups


def test_groups_are_class_indexes_of_known_distinct_classes():
    assert validate_groups([["Push", "Pull"], ["Opening", "Closing"]]) == [
        [CLASSES.index("Push"), CLASSES.index("Pull")],
        [CLASSES.index("Opening"), CLASSES.index("Closing")],
    ]
    with pytest.raises(ValueError, match="overlaps another group"):
        validate_groups([["Push", "Pull"], ["Pull", "Opening"]])
    with pytest.raises(ValueError, match="unknown classes"):
        validate_groups([["Push", "Dancing"]])
    with pytest.raises(ValueError, match="at least two classes"):
        validate_groups([["Push"]])


def test_pairs_of_a_group_that_share_training_videos_are_counted():
    together = pd.DataFrame(0, index=list(CLASSES), columns=list(CLASSES))
    together.loc["Push", "Pull"] = together.loc["Pull", "Push"] = 2
    together.loc["Opening", "activity_walking"] = 5  # not a pair of a group
    groups = [["Push", "Pull"], ["Opening", "Closing"]]
    assert seen_together(together, groups) == {"Push & Pull": 2}
    assert seen_together(together, []) == {}
