"""answer.txt: every test id, in order, unreadable videos included."""

import numpy as np
import pytest

from tinyactions.challenge.submission import format_answer, parse_answer


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
