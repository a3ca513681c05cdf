import json

import numpy as np
import pytest

from tests.conftest import SAMPLES
from tinyactions.challenge.annotations import CLASSES, AnnotationError, multi_hot, read_class_map, read_entries


def test_classes_are_the_official_26_in_order():
    assert len(CLASSES) == 26 and len(set(CLASSES)) == 26
    assert CLASSES[0] == "Opening" and CLASSES[14] == "activity_walking" and CLASSES[19] == "activity_standing"
    assert CLASSES[10] == "vehicle_turning_left" and CLASSES[22] == "vehicle_turning_right" and CLASSES[25] == "Misc"


def test_real_samples_parse_with_their_labels():
    val = read_entries(SAMPLES / "tiny_val_v2_SAMPLE.json", labeled=True)
    raw = json.loads((SAMPLES / "tiny_val_v2_SAMPLE.json").read_text())
    assert len(val) == len(raw) == 57
    assert [e.labels for e in val] == [tuple(r["label"]) for r in raw]
    assert (val[1].frames, val[1].width, val[1].height) == (128, 110, 110)
    test = read_entries(SAMPLES / "tiny_test_v2_public_SAMPLE.json", labeled=False)
    assert len(test) == 51 and all(e.labels is None and e.video_id == e.id for e in test)


def test_malformed_json_names_file_and_line(tmp_path):
    path = tmp_path / "tiny_train_v2.json"
    path.write_text('[{"id": "000001",\n "path": ')
    with pytest.raises(AnnotationError, match=r"tiny_train_v2.json: malformed JSON at line 2"):
        read_entries(path, labeled=True)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"path": "a/1.mp4", "dim": [1, 2, 2], "label": ["Misc"]}, "entry 0: missing key 'id'"),
        ({"id": "000001", "path": "a/1.mp4", "dim": [1, 2], "label": ["Misc"]}, r"entry 0 \(id '000001'\): 'dim'"),
        ({"id": "000001", "path": "a/1.mp4", "dim": [1, 2, 2], "label": []}, "'label' must be a non-empty list"),
        ({"id": "000001", "path": "../x.mp4", "dim": [1, 2, 2], "label": ["Misc"]}, "'path' must be a relative"),
        ({"id": 7, "path": "a/1.mp4", "dim": [1, 2, 2], "label": ["Misc"]}, "'id' must be a string of 1 to 18 digits"),
    ],
)
def test_bad_entries_name_the_entry(tmp_path, entry, message):
    path = tmp_path / "tiny_val_v2.json"
    path.write_text(json.dumps([entry]))
    with pytest.raises(AnnotationError, match=message):
        read_entries(path, labeled=True)


def test_class_map_must_cover_indexes(tmp_path):
    path = tmp_path / "class_map.json"
    path.write_text(json.dumps({c: i for i, c in enumerate(CLASSES)}))
    assert read_class_map(path) == CLASSES
    path.write_text(json.dumps({"a": 0, "b": 2}))
    with pytest.raises(AnnotationError, match="exactly 0..1"):
        read_class_map(path)


def test_multi_hot_in_class_map_order():
    vec = multi_hot(("activity_standing", "Opening"))
    assert vec.dtype == np.int8 and vec.sum() == 2 and vec[0] == 1 and vec[19] == 1
    with pytest.raises(KeyError, match="Dancing"):
        multi_hot(("Dancing",))


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"id": "²", "path": "a/1.mp4", "dim": [1, 2, 2]}, "'id' must be a string of 1 to 18 digits 0-9"),
        ({"id": "٣", "path": "a/1.mp4", "dim": [1, 2, 2]}, "'id' must be a string of 1 to 18 digits 0-9"),
        ({"id": "1" * 19, "path": "a/1.mp4", "dim": [1, 2, 2]}, "'id' must be a string of 1 to 18 digits"),
        ({"id": "7", "path": "a/1.mp4", "dim": [2**70, 2, 2]}, "'dim' must be .* integers from 0 to 2147483647"),
    ],
)
def test_ids_are_ascii_digits_and_dims_are_in_range(tmp_path, raw, message):
    path = tmp_path / "tiny_test_v2_public.json"
    path.write_text(json.dumps([raw]))
    with pytest.raises(AnnotationError, match=message):
        read_entries(path, labeled=False)


def test_a_file_that_is_not_utf8_or_too_deep_names_the_file(tmp_path):
    path = tmp_path / "tiny_val_v2.json"
    path.write_bytes('[{"id": "1", "path": "caf\xe9.mp4"}]'.encode("latin-1"))
    with pytest.raises(
        AnnotationError, match=r"tiny_val_v2.json: not UTF-8 text \(invalid continuation byte: byte 0xe9\)"
    ):
        read_entries(path, labeled=True)
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(AnnotationError, match="tiny_val_v2.json: JSON nested too deeply"):
        read_entries(path, labeled=True)


def test_ids_are_compared_by_value():
    """'7' and '007' are one video: answer.txt would write both as 00007."""
    import numpy as np

    from tinyactions.challenge.submission import format_answer

    with pytest.raises(ValueError, match="duplicate test ids"):
        format_answer(["7", "007"], np.zeros((2, len(CLASSES))))
    assert format_answer(["00012", "7"], np.zeros((2, len(CLASSES)))).splitlines()[0].startswith("00007 0")


def test_an_entry_without_video_id_takes_its_source_from_its_folder(tmp_path):
    """Folds group by source video: a clip-id fallback would make folds per clip."""
    path = tmp_path / "tiny_val_v2.json"
    path.write_text(
        json.dumps(
            [
                {"id": "00001", "path": "VIRAT_S_040003/00001.mp4", "dim": [1, 2, 2], "label": ["Misc"]},
                {"id": "00002", "path": "VIRAT_S_040003/00002.mp4", "dim": [1, 2, 2], "label": ["Misc"]},
                {"id": "00003", "path": "00003.mp4", "dim": [1, 2, 2], "label": ["Misc"]},
                {"id": "00004", "video_id": "other", "path": "x/00004.mp4", "dim": [1, 2, 2], "label": ["Misc"]},
            ]
        )
    )
    assert [e.video_id for e in read_entries(path, labeled=True)] == [
        "VIRAT_S_040003",
        "VIRAT_S_040003",
        "00003",
        "other",
    ]
