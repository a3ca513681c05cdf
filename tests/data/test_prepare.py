"""The prepared index against real-shaped annotations and every kind of bad input."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLES, write_dataset
from tinyactions.challenge.annotations import CLASSES, LABEL_COLUMNS
from tinyactions.data.index import (
    BadEntriesError,
    Tolerance,
    add_balance_copies,
    apply_policy,
    check_class_map,
    check_split,
    class_counts,
    cooccurrence,
    tail_classes,
    video_manifest,
)


def check(root, split, policy="fail"):
    frame, problems = check_split(root, split, CLASSES, Tolerance(), workers=1)
    return apply_policy(frame, split, policy), problems


def test_real_samples_are_accepted_with_exact_labels(tmp_path):
    """prepare accepts the shared real annotation samples (with videos made to their dims)."""
    val = json.loads((SAMPLES / "tiny_val_v2_SAMPLE.json").read_text())
    test = json.loads((SAMPLES / "tiny_test_v2_public_SAMPLE.json").read_text())
    for e in val + test:  # keep the test fast: short clips, same frame count within tolerance rules
        e["dim"][0] = min(e["dim"][0], 12)
    root = write_dataset(tmp_path / "real", {"val": val, "test": test, "train": val[:3]})
    frame, problems = check(root, "val")
    assert len(frame) == 57 and (problems.severity == "reject").sum() == 0
    for row, e in zip(frame.itertuples(), val):
        expected = {c for c in e["label"]}
        got = {c for c, col in zip(CLASSES, LABEL_COLUMNS) if getattr(row, col) == 1}
        assert got == expected, e["id"]
    # odd sizes (e.g. 113) are stored even by the encoder: kept with a warning, file size used
    odd = [e for e in val if e["dim"][1] % 2]
    assert all(frame.set_index("id").loc[e["id"], "width"] == e["dim"][1] - 1 for e in odd)
    test_frame, _ = check(root, "test")
    assert (
        len(test_frame) == 51 and test_frame["readable"].all() and test_frame[list(LABEL_COLUMNS)].to_numpy().sum() == 0
    )


@pytest.fixture
def messy(tmp_path, entry):
    """One good entry and one of each kind of bad input."""
    train = [
        entry("000001"),
        entry("000002", _file=None),  # missing file
        entry("000003", labels=("Dancing",)),  # label not in class map
        entry("000001", labels=("Misc",)),  # duplicate id
        entry("000004", dim=(20, 32, 32), _file=(20, 64, 64)),  # gross size disagreement
        entry("000005", dim=(40, 32, 32), _file=(20, 32, 32)),  # gross frame disagreement
        entry("000006", dim=(21, 33, 33), _file=(20, 33, 33)),  # small: warn and keep
        entry("000007", dim=(20, 48, 32)),  # non-square: warn and keep
        entry("000008"),  # corrupt (overwritten below)
        entry("000009"),  # zero frames (emptied below)
        entry("1", labels=("Misc",)),  # duplicate by value of 000001
    ]
    test = [entry("00000", split="test"), entry("00001", split="test", _file=None)]
    root = write_dataset(tmp_path / "messy", {"train": train, "test": test})
    corrupt = root / "videos/train" / train[8]["path"]
    corrupt.write_bytes(corrupt.read_bytes()[:200])
    (root / "videos/train" / train[9]["path"]).write_bytes(b"")
    return root


def test_policy_fail_lists_every_bad_entry(messy):
    with pytest.raises(BadEntriesError) as err:
        check(messy, "train", "fail")
    text = str(err.value)
    assert "8 bad train entries" in text
    for fragment in (
        "000002",
        "missing file",
        "Dancing",
        "duplicate id 000001",
        "train 1 (",
        "dim width 32 but file has 64",
        "dim frames 40 but file has 20",
        "000008",
        "000009",
        "undecodable",
    ):
        assert fragment in text


def test_policy_skip_keeps_good_and_tolerated_entries(messy):
    frame, problems = check(messy, "train", "skip")
    assert frame["id"].tolist() == ["000001", "000006", "000007"]
    row = frame.set_index("id").loc["000006"]
    assert (row.frames, row.width, row.dim_frames, row.dim_width) == (20, 32, 21, 33)
    assert "non-square 48x32" in frame.set_index("id").loc["000007", "note"]
    rejected = problems[problems.severity == "reject"]
    assert sorted(set(rejected["id"])) == ["000001", "000002", "000003", "000004", "000005", "000008", "000009", "1"]


def test_unreadable_test_video_is_kept_flagged(messy):
    frame, _ = check(messy, "test", "fail")
    assert frame["id"].tolist() == ["00000", "00001"]
    assert frame["readable"].tolist() == [True, False]
    assert "missing file" in frame.iloc[1]["note"]


def test_manifest_holds_the_bytes_of_every_readable_video_once(messy):
    train, _ = check(messy, "train", "skip")
    test, _ = check(messy, "test", "fail")
    train = add_balance_copies(train, ["activity_walking"], copies=1)
    assert train["flip"].any()  # copies share their file: listed once
    manifest = video_manifest([train, test])
    readable = sorted(train.loc[~train.flip, "path"].tolist() + [test.iloc[0]["path"]])
    assert sorted(manifest) == readable and list(manifest) == sorted(manifest)
    for rel, digest in manifest.items():
        assert digest == hashlib.sha256((messy / rel).read_bytes()).hexdigest()
    assert test.iloc[1]["digest"] == ""  # the missing test video has no digest and no manifest line


def test_foreign_class_map_is_refused(tmp_path, entry):
    root = write_dataset(
        tmp_path / "d", {"train": [entry("000001")]}, class_map={c: i for i, c in enumerate(reversed(CLASSES))}
    )
    with pytest.raises(ValueError, match="not the TinyVIRAT-v2 class map"):
        check_class_map(root)


def _frame(rows):
    """Index-shaped frame from lists of label names."""
    data = []
    for k, labels in enumerate(rows):
        y = {col: int(c in labels) for c, col in zip(CLASSES, LABEL_COLUMNS)}
        data.append({"sample_id": f"{k:06d}", "id": f"{k:06d}", "flip": False, **y})
    return pd.DataFrame(data)


def test_tail_rule_and_balance_copies_with_mirrored_labels():
    rows = (
        [["activity_walking"]] * 15
        + [["vehicle_turning_right"]] * 2
        + [["vehicle_turning_left"], ["Push", "activity_walking"], ["Misc"]]
    )
    train = _frame(rows)
    tail = tail_classes(train, max_share=0.05)
    assert tail == ["vehicle_turning_left", "Push", "Misc"]  # class-map order, 1/20 each
    assert tail_classes(train, explicit=["Misc", "Pull"]) == ["Misc"]  # no Pull video: nothing to copy
    balanced = add_balance_copies(
        train,
        tail,
        copies=1,
        mirrored={"vehicle_turning_left": "vehicle_turning_right", "vehicle_turning_right": "vehicle_turning_left"},
    )
    copies = balanced[balanced["flip"]]
    # the tail "turning left" gains the two mirrored right turns; its own video, whose copy turns
    # right (not tail), is not copied
    assert copies["sample_id"].tolist() == ["000015:flip", "000016:flip", "000018:flip", "000019:flip"]
    turned = copies.set_index("id").loc["000015"]
    assert turned["y_vehicle_turning_left"] == 1 and turned["y_vehicle_turning_right"] == 0
    assert copies["y_vehicle_turning_left"].sum() == 2 and copies["y_vehicle_turning_right"].sum() == 0
    assert balanced["sample_id"].is_unique
    # statistics count videos, not copies
    assert class_counts(balanced)["Misc"] == 1
    assert add_balance_copies(train, tail, copies=0) is train


def test_cooccurrence_counts_pairs():
    co = cooccurrence(_frame([["activity_walking", "activity_carrying"], ["activity_walking"], ["Talking"]]))
    assert co.loc["activity_walking", "activity_walking"] == 2
    assert co.loc["activity_walking", "activity_carrying"] == co.loc["activity_carrying", "activity_walking"] == 1
    assert co.loc["Talking", "activity_walking"] == 0
    assert np.array_equal(co.to_numpy(), co.to_numpy().T)
