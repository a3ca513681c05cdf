"""Files from elsewhere stay harmless: checkpoints are read as data (a pickled payload never runs), a
bundle names files of the project only, any file name and any size of video is a row rather than a
crash, and the small guards around names, ids and interrupted writes."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import ROOT, TINY_SUPERRES, smooth_clip, write_dataset
from tinyactions.core import checkpoint_io
from tinyactions.core.filenames import unescaped
from tinyactions.core.files import file_digest, remove_orphans
from tinyactions.data.video import MAX_PIXELS, VideoDecodeError, probe, read_video, write_video
from tinyactions.decide import bundle

NOT_UTF8 = os.fsdecode(b"cam\xe9ra.mp4")  # a Latin-1 name: its bytes are not UTF-8


class Payload:
    """What a crafted checkpoint holds: unpickling it runs a shell command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def crafted(path: Path, marker: Path) -> Path:
    """A checkpoint in the published layout whose meta runs ``touch marker`` when unpickled."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"meta": {"note": Payload(marker)}, "state_dict": {"w": torch.ones(2)}}, path)
    return path


def test_a_pickled_payload_never_runs_and_the_error_names_the_file_and_the_type(tmp_path):
    marker = tmp_path / "ran"
    path = crafted(tmp_path / "evil.pth", marker)
    torch.load(path, weights_only=False)  # the probe works: a full unpickle runs it
    assert marker.exists()
    marker.unlink()
    with pytest.raises(checkpoint_io.CheckpointError) as refused:
        checkpoint_io.load(path)
    assert not marker.exists()
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and "posix.system" in message


def test_mmengine_loads_through_the_same_reader(tmp_path):
    """load_from and resume (mmengine's CheckpointLoader) refuse the payload too."""
    from mmengine.runner.checkpoint import CheckpointLoader

    import tinyactions.core.compat  # noqa: F401

    marker = tmp_path / "ran"
    with pytest.raises(checkpoint_io.CheckpointError, match="posix.system"):
        CheckpointLoader.load_checkpoint(str(crafted(tmp_path / "evil.pth", marker)), map_location="cpu")
    assert not marker.exists()


def test_what_mmengine_and_the_published_checkpoints_hold_reads_as_data(tmp_path):
    """mmengine's own save_checkpoint with what a Runner puts in meta (message hub of HistoryBuffers,
    numpy scalars and arrays, config dicts), and the published layouts: mmaction2 1.x (mmengine era) and
    mmediting 0.x (RealBasicVSR, mmcv era: hook_msgs with a numpy best score)."""
    from mmengine.config import ConfigDict
    from mmengine.logging import MessageHub
    from mmengine.runner.checkpoint import save_checkpoint

    hub = MessageHub.get_instance("untrusted-test")
    hub.update_scalar("train/loss", np.float64(0.5))
    hub.update_info("iter", 7)
    state = {"backbone.w": torch.arange(4.0), "cls_head.fc_cls.weight": torch.ones(400, 2)}
    layouts = {
        "runner": {
            "meta": {
                "epoch": 3,
                "iter": 12,
                "seed": np.int64(5),
                "mean": np.array([123.7, 116.3]),
                "cfg": ConfigDict(model=dict(type="Recognizer3D")),
                "dataset_meta": {"classes": ("a", "b")},
                "message_hub": hub.state_dict(),
            },
            "state_dict": state,
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0]}]},
        },
        "mmaction2": {
            "meta": {
                "mmengine_version": "0.10.7",
                "config": "model = dict(...)",
                "seed": 1,
                "experiment_name": "ircsn",
                "time": "20220811_120000",
                "epoch": 58,
                "iter": 1000,
            },
            "state_dict": state,
        },
        "mmediting": {
            "meta": {
                "mmedit_version": "0.14.0",
                "mmcv_version": "1.3.13",
                "config": "exp_name = ...",
                "epoch": 1,
                "iter": 150000,
                "hook_msgs": {"last_ckpt": "iter_150000.pth", "best_score": np.float64(27.1)},
            },
            "state_dict": {"generator_ema.conv.weight": torch.ones(3)},
        },
    }
    for name, checkpoint in layouts.items():
        save_checkpoint(checkpoint, str(tmp_path / f"{name}.pth"))
        loaded = checkpoint_io.load(tmp_path / f"{name}.pth")
        assert loaded.keys() == checkpoint.keys()
        for key, value in checkpoint["state_dict"].items():
            assert torch.equal(loaded["state_dict"][key], value)
    runner = checkpoint_io.load(tmp_path / "runner.pth")["meta"]
    assert runner["message_hub"]["log_scalars"]["train/loss"].current() == 0.5
    assert runner["seed"] == 5 and runner["cfg"].model.type == "Recognizer3D"
    np.testing.assert_array_equal(runner["mean"], [123.7, 116.3])
    assert checkpoint_io.load(tmp_path / "mmediting.pth")["meta"]["hook_msgs"]["best_score"] == 27.1


def test_a_file_that_is_no_checkpoint_is_one_line(tmp_path):
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    with pytest.raises(checkpoint_io.CheckpointError, match=r"notes.pth: not a"):
        checkpoint_io.load(tmp_path / "notes.pth")


def run_predict(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tinyactions.app.predict", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        errors="surrogateescape",
    )


@pytest.fixture
def project(tmp_path):
    """A project root with params.yaml, one low-res member and its bundle, and one clip."""
    from tests.app.test_predict import save_model
    from tests.conftest import run_spec
    from tinyactions.challenge.annotations import CLASSES

    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    spec = run_spec(name="low", input_size=32)
    save_model(spec, tmp_path / "models/low/epoch_1.pth", seed=0)
    loaded = bundle.build(
        [("low", 1)],
        {"low": spec},
        {("low", 1): file_digest(tmp_path / "models/low/epoch_1.pth")},
        None,
        np.full(len(CLASSES), 0.5),
        [],
        1,
        "fp32",
        None,
        {"cv": 0.2, "in_sample": 0.3},
        keep="score",
    )
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission/bundle.json").write_text(json.dumps(loaded))
    write_video(tmp_path / "clip.mp4", smooth_clip(12, 24, 24))
    return tmp_path, loaded


@pytest.mark.parametrize("where", ["absolute", "relative"])
@pytest.mark.parametrize("entry", ["member", "generator"])
def test_a_crafted_bundle_never_runs_its_payload(project, where, entry):
    """The issue's probe: a bundle naming a crafted .pth with its own sha256, by absolute path or inside
    the project. Absolute (and '..') paths are refused before any file is opened; inside the project
    the file is read as data and refused. Either way one line, exit 1, and the payload never ran."""
    root, loaded = project
    marker = root.parent / f"ran-{where}-{entry}"
    evil = crafted(root / "models/low/epoch_2.pth" if where == "relative" else root.parent / "evil.pth", marker)
    named = "models/low/epoch_2.pth" if where == "relative" else str(evil)
    if entry == "member":
        loaded["members"][0].update(checkpoint=named, sha256=file_digest(evil))
    else:
        loaded["members"][0]["input"] = loaded["members"][0]["recipe"]["input"] = "sr"
        loaded["superres"] = bundle.superres_entry(named, file_digest(evil), TINY_SUPERRES)
    (root / "evil.json").write_text(json.dumps(loaded))
    out = run_predict(["clip.mp4", "--bundle", "evil.json", "--out", "p.csv"], root)
    assert out.returncode == 1, out.stderr[-2000:]
    assert not marker.exists(), "the payload ran"
    last = out.stderr.strip().splitlines()[-1]
    assert "Traceback" not in out.stderr
    if where == "absolute":
        assert (
            last
            == f"predict: bundle: {str(evil)!r} is not a path inside the project (absolute and '..' paths are refused)"
        )
    else:
        assert last.startswith("predict: models/low/epoch_2.pth: refused: it holds posix.system"), last


@pytest.mark.parametrize("named", ["../models/low/epoch_1.pth", "models/../../x.pth", "", "C:/x.pth"])
def test_a_bundle_names_files_inside_the_project_only(named):
    with pytest.raises(bundle.BundleError, match="bundle: "):
        bundle.project_file(named)


def test_a_bundle_of_another_shape_is_one_line(project):
    root, loaded = project
    loaded["members"][0]["epoch"] = "1; rm -rf /"
    (root / "odd.json").write_text(json.dumps(loaded))
    with pytest.raises(bundle.BundleError, match=r"odd.json: members.0.epoch: "):
        bundle.load(root / "odd.json")
    (root / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(bundle.BundleError, match="deep.json: JSON nested too deeply"):
        bundle.load(root / "deep.json")


def oversized_video(path: Path) -> int:
    """A real video whose frames exceed the decode cap: 2048 x 2048 px, 72 frames (1.1 GB decoded),
    written frame by frame; returns its decoded size in bytes."""
    frames, size = 72, 2048
    assert frames * size * size > MAX_PIXELS
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (size, size))
    frame = np.zeros((size, size, 3), np.uint8)
    for t in range(frames):
        frame[:, :, 1] = t
        writer.write(frame)
    writer.release()
    return frames * size * size * 3


@pytest.fixture
def hostile_folder(tmp_path):
    """The issue's folder: a name that is not UTF-8, a folder named x.mp4, a 1-frame and a 0-byte video,
    an oversized video, and a plain clip."""
    folder = tmp_path / "clips"
    folder.mkdir()
    write_video(folder / NOT_UTF8, smooth_clip(10, 20, 20, seed=1))
    (folder / "x.mp4").mkdir()
    write_video(folder / "one.mp4", smooth_clip(1, 16, 16, seed=2))
    (folder / "zero.mp4").write_bytes(b"")
    decoded = oversized_video(folder / "huge.mp4")
    write_video(folder / "plain.mp4", smooth_clip(14, 24, 24, seed=3))
    return folder, decoded


def test_decoders_take_any_file_name_and_refuse_what_exceeds_the_cap(hostile_folder):
    folder, _ = hostile_folder
    assert read_video(folder / NOT_UTF8).shape == (10, 20, 20, 3)
    assert probe(folder / NOT_UTF8).frames == 10
    with pytest.raises(VideoDecodeError, match="not a regular file"):
        read_video(folder / "x.mp4")
    with pytest.raises(VideoDecodeError, match="exceed the decode cap"):
        probe(folder / "huge.mp4")
    write_video(folder / os.fsdecode(b"out\xff.mp4"), smooth_clip(3, 8, 8))  # OpenCV's writer, same name rule
    assert read_video(folder / os.fsdecode(b"out\xff.mp4")).shape == (3, 8, 8, 3)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


PEAK = (
    "import resource, runpy, sys\nsys.argv = ['predict'] + sys.argv[1:]\n"
    "try:\n    runpy.run_module('tinyactions.app.predict', run_name='__main__')\nfinally:\n"
    "    print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


def predict_peak(inputs: list[str], out: str, cwd: Path) -> tuple[subprocess.CompletedProcess, int]:
    """predict's command line in a process of its own; its peak RSS in bytes."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *inputs, "--out", out],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=600,
        errors="surrogateescape",
    )
    return done, int(done.stderr.split("PEAK_RSS_KB")[-1].split()[0]) * 1024


@pytest.mark.slow
def test_predict_on_a_hostile_folder_gives_every_input_a_row(project, hostile_folder):
    """rc 0, a row per input, the name that is not UTF-8 written escaped in a valid UTF-8 file and given
    back byte for byte by unescaping, and the oversized video refused before its frames are held: the run's
    peak RSS is that of predicting the plain clip alone."""
    root, _ = project
    folder, decoded = hostile_folder
    out, peak = predict_peak([str(folder)], "rows.csv", root)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = bundle.read_predictions(root / "rows.csv").set_index("video")
    names = {Path(unescaped(v)).name: v for v in rows.index}
    assert sorted(names) == sorted([NOT_UTF8, "x.mp4", "one.mp4", "zero.mp4", "huge.mp4", "plain.mp4"])
    readable = rows["readable"].rename(index=lambda v: Path(unescaped(v)).name).to_dict()
    assert readable == {
        NOT_UTF8: True,
        "x.mp4": False,
        "one.mp4": True,
        "zero.mp4": False,
        "huge.mp4": False,
        "plain.mp4": True,
    }
    assert "exceed the decode cap" in rows.loc[names["huge.mp4"], "problem"]
    assert "not a regular file" in rows.loc[names["x.mp4"], "problem"]
    text = (root / "rows.csv").read_bytes().decode("utf-8")  # strict: valid UTF-8 whatever the names
    assert "cam\\xe9ra.mp4" in text and os.fsencode(unescaped(names[NOT_UTF8])) == os.fsencode(folder / NOT_UTF8)
    plain, alone = predict_peak([str(folder / "plain.mp4")], "plain.csv", root)
    assert plain.returncode == 0, plain.stderr[-3000:]
    print(
        f"predict on the hostile folder: peak RSS {peak / 2**30:.2f} GiB, on its plain clip alone "
        f"{alone / 2**30:.2f} GiB; the oversized video would decode to {decoded / 2**30:.2f} GiB"
    )
    assert peak < alone + decoded / 4


def test_prepare_reports_the_same_entries_as_bad_entries(tmp_path, entry, hostile_folder):
    """Annotations naming the same files: each is a row of problems.csv (the test split keeps them as
    unreadable), none crashes the stage. A path that is not valid text (JSON can carry a lone surrogate)
    is refused: the prepared index holds text."""
    from tinyactions.data.index import Tolerance, check_split

    folder, _ = hostile_folder
    names = [NOT_UTF8, "x.mp4", "one.mp4", "zero.mp4", "huge.mp4", "plain.mp4"]
    entries = [entry(f"{k:05d}", dim=(1, 16, 16), split="test", path=name) for k, name in enumerate(names)]
    root = write_dataset(tmp_path / "root", {"test": entries}, make_videos=False)
    (root / "videos").mkdir()
    os.symlink(folder, root / "videos/test")
    rows, problems = check_split(root, "test", tuple(json.loads((root / "class_map.json").read_text())), Tolerance())
    assert rows["readable"].tolist() == [False, False, True, False, False, True]
    reasons = dict(zip(problems["id"], problems["reason"]))
    assert reasons["00000"] == "path is not valid text (it holds a lone surrogate)"
    assert "not a regular file" in reasons["00001"] and "undecodable" in reasons["00003"]
    assert "exceed the decode cap" in reasons["00004"] and "00002" not in reasons and "00005" in reasons
    assert rows.loc[0, "path"] == "videos/test/cam\\udce9ra.mp4"  # shown escaped: parquet holds text only


def test_orphaned_temporary_files_are_removed_on_the_next_run(tmp_path):
    """Of a killed process (its pid is gone) on this host: removed; of a live one, or another host: kept."""
    from tinyactions.core.files import _host

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    cache = tmp_path / "cache" / "ab"
    cache.mkdir(parents=True)
    orphan = cache / f".tmp-{_host()}-{dead}-0123456789ab.mp4"
    live = cache / f".tmp-{_host()}-{os.getpid()}-0123456789ab.mp4"
    other = cache / f".tmp-elsewhere-{dead}-0123456789ab.mp4"
    for path in (orphan, live, other):
        path.write_bytes(b"")
    assert remove_orphans(tmp_path / "cache", recursive=True) == 1
    assert not orphan.exists() and live.exists() and other.exists()


@pytest.mark.parametrize("stage", ["prepare", "superres_fit"])
def test_prepare_and_superres_fit_remove_what_a_killed_run_left_in_metrics(tmp_path, stage):
    """Each stage that writes into metrics/ removes its dead temporaries there before it works (here it then
    fails at once on a missing input: the removal came first); a live process's stays."""
    import yaml

    from tinyactions.core.errors import SettingsError
    from tinyactions.core.files import _host
    from tinyactions.core.paths import Workspace

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    ws = Workspace(tmp_path)
    ws.metrics.mkdir(parents=True)
    orphan = ws.metrics / f".tmp-{_host()}-{dead}-0123456789ab.json"
    live = ws.metrics / f".tmp-{_host()}-{os.getpid()}-0123456789ab.json"
    for path in (orphan, live):
        path.write_text("")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    missing = str(tmp_path / "missing")
    if stage == "prepare":
        from tinyactions.data.prepare import Balance, Data, prepare

        data = Data.model_validate({**params["data"], "root": missing})
        with pytest.raises(SettingsError, match="data.root"):
            prepare(data, Balance.model_validate(params["balance"]), 1, ws)
    else:
        from tinyactions.superres.fit import make_generator
        from tinyactions.superres.fit_settings import Superres

        sr = Superres.model_validate({**params["superres"], "weights": f"{missing}/g.pth"})
        with pytest.raises(SettingsError, match="g.pth"):
            make_generator(sr, missing, 1, ws)
    assert not orphan.exists() and live.exists()


def test_a_second_predict_on_the_same_out_is_refused(tmp_path):
    from tinyactions.core.partial_output import OutputBusy, PartialOutput

    first, second = PartialOutput(tmp_path / "p.csv", {}), PartialOutput(tmp_path / "p.csv", {})
    with first.locked():
        with pytest.raises(OutputBusy, match=r"^.*p.csv: another run is writing it \(it holds .*p.csv.lock\)$"):
            with second.locked():
                pass
    with second.locked():  # released: the next run goes ahead
        pass
    assert not (tmp_path / "p.csv.lock").exists()


class ObjectField:
    """A numpy dtype with a Python-object field whose reference flags are cleared (numpy trusts them)."""

    def __reduce__(self):
        state = (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 1, 0)
        return np.dtype, ("V8", False, True), state


class ForgedPointers:
    """An array of that dtype filled with bytes from the file, which numpy would follow as pointers."""

    def __reduce__(self):
        return np.core.multiarray._reconstruct, (np.ndarray, (0,), b"b"), (1, (1,), ObjectField(), False, b"A" * 8)


def test_arrays_of_python_objects_are_refused_before_any_is_touched(tmp_path):
    """numpy dtypes may carry object fields: a file could forge their pointers (printing the array would
    crash the process). Such a file is refused from the dtypes alone, at any depth of nesting."""
    path = tmp_path / "forged.pth"
    torch.save({"meta": {"epoch_log": [ForgedPointers()]}, "state_dict": {"w": torch.ones(2)}}, path)
    with pytest.raises(checkpoint_io.CheckpointError, match=r"forged.pth: refused: it holds a numpy array of Python"):
        checkpoint_io.load(path)
    deep: list = []
    for _ in range(5000):  # beyond the interpreter's recursion limit (1000): a recursive walk would fail
        deep = [deep]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # for the writer, which recurses
    try:
        torch.save({"meta": deep, "state_dict": {}}, tmp_path / "deep.pth")
    finally:
        sys.setrecursionlimit(limit)
    assert checkpoint_io.load(tmp_path / "deep.pth")["state_dict"] == {}  # walked without recursion
    torch.save({"meta": {"x": np.array([1, 2])}, "state_dict": {}}, tmp_path / "ok.pth")
    assert checkpoint_io.load(tmp_path / "ok.pth")["meta"]["x"].tolist() == [1, 2]
    # hidden where a walk of containers alone would not look: a dtype's metadata, a tensor's attributes
    hidden = np.dtype("f4", metadata={"hidden": ForgedPointers()})
    torch.save({"meta": {"x": np.zeros(2, dtype=hidden)}, "state_dict": {}}, tmp_path / "metadata.pth")
    weight = torch.ones(2)
    weight.hidden = ForgedPointers()
    torch.save({"state_dict": {"w": weight}}, tmp_path / "attribute.pth")
    for name in ("metadata.pth", "attribute.pth"):
        with pytest.raises(checkpoint_io.CheckpointError, match=rf"{name}: refused: it holds a numpy array of Python"):
            checkpoint_io.load(tmp_path / name)


def test_allowed_constructors_fed_bad_arguments_are_one_line(tmp_path):
    class BadComplex:
        def __reduce__(self):
            return complex, ("x", "y")

    torch.save({"meta": BadComplex()}, tmp_path / "bad.pth")
    with pytest.raises(checkpoint_io.CheckpointError, match=r"bad.pth: not a readable checkpoint \(TypeError"):
        checkpoint_io.load(tmp_path / "bad.pth")


def with_superres(bundle: dict, **changes) -> None:
    """The project bundle's member read on SR video, with a generator entry and ``changes`` to it."""
    bundle["members"][0]["input"] = bundle["members"][0]["recipe"]["input"] = "sr"
    bundle["superres"] = {**TINY_SUPERRES, "generator": "models/superres/generator.pth", "sha256": "0" * 64, **changes}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda b: b.update(groups=[["Push", "Dancing"]]), r"groups: .*unknown classes \['Dancing'\]"),
        (lambda b: b.update(thresholds=[0.5] * 27), "thresholds: 27 thresholds for 26 classes"),
        (lambda b: b.update(thresholds=[0.5]), "thresholds: 1 thresholds for 26 classes"),
        (lambda b: b.update(weights=[1.0, 2.0]), "weights: 2 weights for 1 members"),
        (lambda b: b["members"][0].update(canary=[[0.5] * 26]), r"members.0.canary: not 3 clips x 26 scores"),
        (lambda b: b["members"][0]["recipe"].update(input_size=10**6), "members.0.recipe.input_size: "),
        (lambda b: b["members"][0]["recipe"].update(backbone="vit"), "members.0.recipe.backbone: "),
        (lambda b: b["scoring"].update(views=10**6), "scoring.views: "),
        (lambda b: b["members"][0].update(input="sr"), "members.0.input: sr, but its recipe reads lr"),
        (
            lambda b: (b["members"][0].update(input="sr"), b["members"][0]["recipe"].update(input="sr")),
            "members.0: reads super-resolved video, but the bundle names no generator",
        ),
        (
            lambda b: b.update(
                lr_only={k: b[k] for k in ("weights", "thresholds", "groups", "keep", "val_f1")}
                | {
                    "members": [
                        {**b["members"][0], "input": "sr", "recipe": {**b["members"][0]["recipe"], "input": "sr"}}
                    ]
                }
            ),
            "lr_only.members.0: reads super-resolved video, but the low-res variant holds low-res members only",
        ),
        (lambda b: b.update(weights=[float("nan")]), "NaN is not a JSON number"),
        (lambda b: b.update(weights=[float("inf")]), "Infinity is not a JSON number"),
        (lambda b: b["thresholds"].__setitem__(3, float("nan")), "NaN is not a JSON number"),
        (lambda b: b.update(weights=[-1.0]), "weights.0: Input should be greater than or equal to 0"),
        (lambda b: b.update(weights=[0.0]), "weights: all zero: at least one member needs a positive weight"),
        (
            lambda b: (
                b["members"][0]["recipe"].update(input_size=1024, segments=256),
                b["scoring"].update(views=32, batch=1),
            ),
            r"members.0.recipe: a scoring batch of 1 clips x 32 views x 256 frames of 1024x1024 px is 96.0 GiB of "
            r"input, over its 4 GiB budget",
        ),
        (lambda b: with_superres(b, window=8, overlap=4), "superres.window: 8 must exceed twice the overlap"),
        (
            lambda b: with_superres(
                b, spec={"mid_channels": 4, "propagation_blocks": 10_000_000, "cleaning_blocks": 1}
            ),
            "superres.spec.propagation_blocks: Input should be less than or equal to 64",
        ),
        (
            lambda b: with_superres(
                b, size=1024, window=1024, spec={"mid_channels": 256, "propagation_blocks": 1, "cleaning_blocks": 1}
            ),
            "superres.spec: a window of 1024 frames of 1024x1024 px at 256 channels is 1024.0 GiB of features",
        ),
    ],
)
def test_a_bundle_that_does_not_add_up_is_one_line_before_any_work(project, change, message):
    """Its layout checked beyond types: the sizes it asks for are bounded, its parts fit together."""
    root, loaded = project
    change(loaded)
    (root / "odd.json").write_text(json.dumps(loaded))
    with pytest.raises(bundle.BundleError, match=rf"odd.json: {message}"):
        bundle.load(root / "odd.json")


def test_predict_takes_annotation_paths_that_are_not_text_and_oversized_sr_clips(project, tmp_path):
    """An annotation path with a lone surrogate no file name can hold is a row (its name escaped in the
    CSV), not a crash when the row is written. A bundle with SR members refuses a clip whose upscaled
    frames would exceed the decode cap, as a row."""
    from tinyactions.app import predict
    from tinyactions.superres import network, upscale

    root, loaded = project
    entries = [
        {"id": "00001", "path": "\ud800.mp4", "dim": [1, 1, 1]},
        {"id": "00002", "path": "clip.mp4", "dim": [1, 1, 1]},
    ]
    (root / "odd.json").write_text(json.dumps(entries))
    clips = predict.clips_of([str(root / "odd.json")])
    predict.predict(bundle.parse(loaded), clips, root / "odd.csv", chunk=2, sr_batch=2, device="cpu", root=root)
    rows = bundle.read_predictions(root / "odd.csv")
    assert rows["id"].tolist() == ["00001", "00002"] and rows["readable"].tolist() == [False, True]
    assert rows.loc[0, "video"].endswith("\\ud800.mp4") and unescaped(rows.loc[0, "video"]).endswith("\ud800.mp4")
    assert "file not found" in rows.loc[0, "problem"] and (root / "odd.csv").read_bytes().decode("utf-8")
    # an SR bundle: upscaled to 32 px, a clip of more than MAX_PIXELS / 32^2 frames is refused before scoring
    job = upscale.UpscaleJob(network.GeneratorSpec(4, 1, 1), "", 32, 8, 2, 2, "square", "fp32")
    upscaler = upscale.Upscaler(network.build_generator(job.generator), 32, 8, 2, 2, "square", "cpu", precision="fp32")
    from tinyactions.score.scorer import Scorer

    ensemble = Scorer.__new__(Scorer)
    ensemble.upscaler = upscaler
    frames = MAX_PIXELS // 32**2
    assert ensemble.too_large(np.zeros((frames, 8, 8, 3), np.uint8)) == ""
    assert "super-resolved they would exceed the decode cap" in ensemble.too_large(
        np.zeros((frames + 1, 8, 8, 3), np.uint8)
    )


def test_a_member_is_a_regular_file_inside_the_project(project):
    """A member path that leads out of the project through a link, or that names a pipe or a folder, is
    refused by name before anything is read from it; a link inside the project is followed."""
    root, loaded = project
    ensemble = bundle.parse(loaded)
    member = root / "models/low/epoch_1.pth"
    kept = root / "models/low/kept.pth"
    member.rename(kept)
    outside = root.parent / "outside.pth"
    outside.write_bytes(kept.read_bytes())
    member.symlink_to(outside)
    with pytest.raises(bundle.BundleError, match=r"^bundle: models/low/epoch_1.pth leads out of the project"):
        bundle.verify(ensemble, root)
    member.unlink()
    os.mkfifo(member)
    with pytest.raises(bundle.BundleError, match=r"^bundle: models/low/epoch_1.pth is a named pipe, not a regular"):
        bundle.verify(ensemble, root)
    member.unlink()
    member.mkdir()
    with pytest.raises(bundle.BundleError, match=r"^bundle: models/low/epoch_1.pth is a folder, not a regular file"):
        bundle.verify(ensemble, root)
    member.rmdir()
    member.symlink_to(kept)  # a link inside the project: the file it names is checked
    bundle.verify(ensemble, root)


@pytest.mark.parametrize(
    "content, message",
    [
        ({"meta": {}}, r"epoch_1.pth: no state_dict: not a checkpoint of a run$"),
        (
            {"state_dict": {"x": torch.ones(1)}},
            r"epoch_1.pth: not this network's weights: [0-9]+ missing \(first .+\), 1 unknown \(first x\)$",
        ),
    ],
)
def test_a_member_of_another_layout_is_one_line(project, content, message):
    root, loaded = project
    torch.save(content, root / "models/low/epoch_1.pth")
    loaded["members"][0]["sha256"] = file_digest(root / "models/low/epoch_1.pth")
    (root / "odd.json").write_text(json.dumps(loaded))
    out = run_predict(["clip.mp4", "--bundle", "odd.json", "--out", "p.csv"], root)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert re.search(message, out.stderr.strip().splitlines()[-1]), out.stderr.strip().splitlines()[-1]
