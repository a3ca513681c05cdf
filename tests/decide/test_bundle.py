"""The ensemble bundle: decisions from member scores, and the files it names checked by content."""

import json

import numpy as np
import pytest

from tests.conftest import run_spec
from tinyactions.challenge.annotations import CLASSES
from tinyactions.core.files import file_digest
from tinyactions.decide import bundle


def make(tmp_path, weights=None, groups=(), keep="score"):
    for epoch in (1, 2):
        path = tmp_path / f"models/r/epoch_{epoch}.pth"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"weights {epoch}".encode())
    digests = {("r", e): file_digest(tmp_path / f"models/r/epoch_{e}.pth") for e in (1, 2)}
    return bundle.build(
        [("r", 1), ("r", 2)],
        {"r": run_spec(name="r")},
        digests,
        weights,
        np.full(26, 0.5),
        [list(g) for g in groups],
        views=1,
        precision="fp32",
        superres={"unused": True},
        keep=keep,
    )


def test_decide_averages_members_thresholds_and_keeps_the_top_class_of_a_group(tmp_path):
    b = make(tmp_path, weights=[3, 1], groups=[(0, 1)])
    assert b["superres"] is None, "no member reads super-resolved video"
    assert b["groups"] == [[CLASSES[0], CLASSES[1]]] and b["members"][1]["checkpoint"] == "models/r/epoch_2.pth"
    recipe = b["members"][0]["recipe"]
    assert "pretrained" not in recipe and recipe["input_size"] == run_spec().input_size and recipe["name"] == "r"
    a, c = np.zeros((3, 26)), np.zeros((3, 26))
    a[0, :2] = [0.9, 0.7]  # both above 0.5 after averaging: the group keeps the higher
    c[0, :2] = [0.5, 0.9]
    a[1, 5], c[1, 5] = 0.4, 0.9  # 0.525 with weights 3:1 -> predicted; 0.65 unweighted would be too
    a[2], c[2] = np.nan, np.nan  # unreadable: no class
    scores, predicted = bundle.decide(bundle.parse(b), [a, c])
    np.testing.assert_allclose(scores[0, :2], [0.8, 0.75])
    np.testing.assert_allclose(scores[1, 5], 0.525)
    assert predicted[0, :2].tolist() == [1, 0] and predicted[1].tolist() == [int(k == 5) for k in range(26)]
    assert np.isnan(scores[2]).all() and not predicted[2].any()
    with pytest.raises(ValueError, match="1 score matrices for 2 bundle members"):
        bundle.decide(bundle.parse(b), [a])


def test_decide_keeps_the_class_furthest_above_its_threshold_when_the_bundle_says_margin(tmp_path):
    b = make(tmp_path, groups=[(0, 1)], keep="margin")
    b["thresholds"][:2] = [0.7, 0.3]  # a frequent class with a high threshold beside a rare one
    a = np.zeros((1, 26))
    a[0, :2] = [0.8, 0.6]
    assert bundle.decide(bundle.parse(b), [a, a])[1][0, :2].tolist() == [0, 1]  # margins 0.1 and 0.3
    assert bundle.decide(bundle.parse({**b, "keep": "score"}), [a, a])[1][0, :2].tolist() == [1, 0]
    with pytest.raises(ValueError, match="keep: 'top' is not score or margin"):
        make(tmp_path, keep="top")


def test_verify_names_a_moved_or_changed_checkpoint(tmp_path):
    b = bundle.parse(make(tmp_path))
    bundle.verify(b, tmp_path)
    (tmp_path / "models/r/epoch_2.pth").write_bytes(b"retrained")
    with pytest.raises(ValueError, match=r"^bundle: models/r/epoch_2.pth is not the file the bundle was made"):
        bundle.verify(b, tmp_path)
    (tmp_path / "models/r/epoch_1.pth").rename(tmp_path / "models/r/moved.pth")
    with pytest.raises(FileNotFoundError, match=r"^bundle: models/r/epoch_1.pth does not exist"):
        bundle.verify(b, tmp_path)


def test_a_member_without_a_recorded_digest_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"no checkpoint digest recorded for r@3: rerun their dump stages"):
        bundle.build(
            [("r", 3)], {"r": run_spec(name="r")}, {}, None, np.full(26, 0.5), [], 1, "fp32", None, keep="score"
        )


def test_load_names_a_file_that_is_not_a_bundle_of_this_version(tmp_path):
    (tmp_path / "broken.json").write_text("{nope")
    with pytest.raises(bundle.BundleError, match=r"not a bundle: .*broken.json: malformed JSON at line 1"):
        bundle.load(tmp_path / "broken.json")
    old = {k: v for k, v in make(tmp_path).items() if k not in ("val_f1", "lr_only")}
    (tmp_path / "old.json").write_text(json.dumps(old))
    with pytest.raises(
        bundle.BundleError,
        match=r"old.json: not a bundle of this version \(no val_f1, lr_only\): "
        r"rerun the evaluate stage$",
    ):
        bundle.load(tmp_path / "old.json")
    unkept = {k: v for k, v in make(tmp_path).items() if k != "keep"}
    (tmp_path / "unkept.json").write_text(json.dumps(unkept))
    with pytest.raises(bundle.BundleError, match=r"not a bundle of this version \(no keep\): rerun the evaluate"):
        bundle.load(tmp_path / "unkept.json")
    (tmp_path / "top.json").write_text(json.dumps({**make(tmp_path), "keep": "top"}))
    with pytest.raises(bundle.BundleError, match=r"keep"):
        bundle.load(tmp_path / "top.json")
    (tmp_path / "new.json").write_text(json.dumps(make(tmp_path)))
    loaded = bundle.load(tmp_path / "new.json")
    assert loaded.model_dump(mode="json") == json.loads(json.dumps(make(tmp_path)))  # every key, typed
    assert loaded.members[1].name() == "r@2" and loaded.members[1].spec() == run_spec(name="r")
    assert loaded.scoring.views == 1 and loaded.superres is None and loaded.keep == "score"


def test_how_the_dumps_ran_is_recorded_only_where_they_agree():
    import pandas as pd

    def table(**attrs):
        t = pd.DataFrame()
        t.attrs = attrs
        return t

    cpu = {"precision": "fp32", "device": "cpu"}
    libs = {"versions": {"torch": "2.14.1", "decord": "0.6.0"}}
    assert bundle.made_with([table(batch=32, **cpu, **libs), table(batch=32, **cpu, **libs)]) == {
        "batch": 32,
        "made_with": cpu,
        **libs,
    }
    other = {"versions": {"torch": "2.11.0", "decord": "0.6.0"}}
    assert bundle.made_with([table(batch=32, **cpu, **libs), table(batch=8, **cpu, **other)]) == {
        "batch": None,
        "made_with": cpu,
        "versions": None,
    }
    assert bundle.made_with([table(batch=32, **cpu), table(batch=32, precision="bf16", device="cpu")]) == {
        "batch": 32,
        "made_with": None,
        "versions": None,
    }
    assert bundle.made_with([table(batch=32, **cpu), table()]) == {"batch": None, "made_with": None, "versions": None}
