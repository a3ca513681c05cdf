"""predict: the bundle applied to new videos gives what the pipeline's own stages give the same videos;
broken files, a changed checkpoint, --lr-only and an interrupted run. (The end-to-end equality with the
evaluate stage's decisions on a repro'd pipeline is in tests/test_pipeline.py.)"""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import ROOT, TINY_SUPERRES, run_spec, smooth_clip
from tinyactions.app import predict
from tinyactions.challenge.annotations import ANNOTATION_FILES, CLASSES, SCORE_COLUMNS
from tinyactions.core.files import file_digest
from tinyactions.data.video import write_video
from tinyactions.decide import bundle

SR = TINY_SUPERRES


def save_model(spec, path, seed):
    from tinyactions.train.recipes import model_config
    from tinyactions.train.registry import build_model

    torch.manual_seed(seed)
    model = build_model(model_config(spec))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A trained-pipeline workspace in miniature: a low-res and an SR member, a generator, the bundle
    (with its lr_only variant), and a folder of videos with a corrupt file, an empty one and a note."""
    from tinyactions.superres import network

    monkeypatch.chdir(tmp_path)
    specs = {"low": run_spec(name="low", input_size=32), "high": run_spec(name="high", input="sr", input_size=32)}
    for seed, name in enumerate(specs):
        save_model(specs[name], tmp_path / f"models/{name}/epoch_1.pth", seed)
    torch.manual_seed(7)
    network.save_official(
        network.build_generator(network.GeneratorSpec(**SR["spec"])), tmp_path / "models/superres/generator.pth", {}
    )
    digests = {(n, 1): file_digest(tmp_path / f"models/{n}/epoch_1.pth") for n in specs}
    thresholds = np.linspace(0.3, 0.7, len(CLASSES))
    full = bundle.build(
        [("low", 1), ("high", 1)],
        specs,
        digests,
        [2.0, 1.0],
        thresholds,
        [[3, 5]],
        1,
        "fp32",
        bundle.superres_entry("models/superres/generator.pth", file_digest("models/superres/generator.pth"), SR),
        {"cv": 0.25, "in_sample": 0.3},
        keep="score",
    )
    low = bundle.build(
        [("low", 1)],
        specs,
        digests,
        None,
        thresholds - 0.1,
        [],
        1,
        "fp32",
        None,
        {"cv": 0.2, "in_sample": 0.22},
        keep="score",
    )
    written = bundle.with_lr_only(full, low)
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission/bundle.json").write_text(json.dumps(written))
    loaded = bundle.load(tmp_path / "submission/bundle.json")  # predict reads it through its types
    videos = tmp_path / "clips"
    for k, (frames, size) in enumerate([(20, 24), (9, 16), (31, 20)]):
        write_video(videos / f"cam{k}.mp4", smooth_clip(frames, size, size + 4, seed=k))
    (videos / "cam1b.mp4").write_bytes(b"\x00not a video" * 50)  # corrupt
    (videos / "nested").mkdir()
    (videos / "nested/empty.mp4").write_bytes(b"")
    (videos / "notes.txt").write_text("not a video")
    return {"root": tmp_path, "bundle": loaded, "specs": specs, "videos": videos}


def reference(ws, chunk):
    """What the pipeline's stages make of the folder's readable videos: the dump's scoring of the
    low-res files, the superres stage's stored SR files scored the same way, averaged and decided by
    the bundle."""
    from tinyactions.score.dump import score_split
    from tinyactions.superres import network, upscale

    names = ["cam0.mp4", "cam1.mp4", "cam1b.mp4", "cam2.mp4", "nested/empty.mp4"]
    index = pd.DataFrame(
        {
            "id": names,
            "sample_id": names,
            "path": names,
            "flip": False,
            "readable": [n in ("cam0.mp4", "cam1.mp4", "cam2.mp4") for n in names],
        }
    )
    sr = ws["bundle"].superres
    job = upscale.UpscaleJob(
        network.GeneratorSpec(**sr.spec.model_dump()),
        sr.generator,
        sr.size,
        sr.window,
        sr.overlap,
        4,
        sr.input,
        sr.precision,
    )
    readable = index[index.readable].path
    upscale.process(
        [(str(ws["videos"] / p), str(ws["root"] / "sr" / p)) for p in readable],
        job.build("cpu"),
        upscale.CHUNK,
        sr.storage,
    )
    members = []
    for run, root in (("low", ws["videos"]), ("high", ws["root"] / "sr")):
        table = score_split(
            ws["specs"][run],
            {1: ws["root"] / f"models/{run}/epoch_1.pth"},
            index,
            str(root),
            "x",
            views=1,
            chunk=chunk,
            precision="fp32",
        )
        members.append(table.set_index("id").loc[names, list(SCORE_COLUMNS)].to_numpy())
    return bundle.decide(ws["bundle"], members)


def test_a_folder_is_scored_as_the_pipeline_scores_it_and_broken_files_get_their_row(workspace):
    ws = workspace
    clips = predict.clips_of([str(ws["videos"])])
    assert [c.video for c in clips] == [
        str(ws["videos"] / n) for n in ("cam0.mp4", "cam1.mp4", "cam1b.mp4", "cam2.mp4", "nested/empty.mp4")
    ]
    summary = predict.predict(ws["bundle"], clips, "out/predictions.csv", chunk=2, sr_batch=3, device="cpu")
    rows = bundle.read_predictions("out/predictions.csv")
    assert list(rows.columns) == list(bundle.PREDICTION_COLUMNS) and (rows["id"] == "").all()
    assert summary["videos"] == 5 and summary["unreadable"] == 2
    assert rows["readable"].tolist() == [True, True, False, True, False]
    assert "no decodable frames" in rows.loc[2, "problem"] and rows.loc[4, "problem"]
    assert (rows.loc[[0, 1, 3], "problem"] == "").all()
    broken = rows.loc[[2, 4]]
    assert (broken["labels"] == "").all() and broken[list(SCORE_COLUMNS)].isna().all().all()
    scores, predicted = reference(ws, chunk=2)  # the same batches: 2 readable clips, then 1
    np.testing.assert_array_equal(rows[list(SCORE_COLUMNS)].to_numpy(), scores)
    assert rows["labels"].tolist() == [" ".join(CLASSES[c] for c in np.flatnonzero(p)) for p in predicted]
    assert predicted[[0, 1, 3]].sum() > 0, "a test that predicts nothing could not tell decisions apart"
    assert not (ws["root"] / "out/predictions.csv.partial").exists()


def test_a_clip_that_fails_after_decoding_loses_only_its_own_row(workspace, monkeypatch):
    ws = workspace
    clips = predict.clips_of([str(ws["videos"])])
    predict.predict(ws["bundle"], clips, "normal.csv", chunk=2, sr_batch=3, device="cpu")
    from tinyactions.score.scorer import Scorer

    score = Scorer.score

    def failing(self, frames, names):
        if any(name.endswith("cam1.mp4") for name in names):
            raise RuntimeError("out of memory")
        return score(self, frames, names)

    monkeypatch.setattr(Scorer, "score", failing)
    predict.predict(ws["bundle"], clips, "failing.csv", chunk=2, sr_batch=3, device="cpu")
    normal, failed = bundle.read_predictions("normal.csv"), bundle.read_predictions("failing.csv")
    assert failed["readable"].tolist() == [True, False, False, True, False]
    assert failed.loc[1, "problem"] == "scoring failed: RuntimeError: out of memory"
    assert failed.loc[1, list(SCORE_COLUMNS)].isna().all() and failed.loc[1, "labels"] == ""
    # cam0 was scored alone instead of beside cam1: the same scores within rounding; cam2 as before
    np.testing.assert_allclose(
        failed.loc[0, list(SCORE_COLUMNS)].to_numpy(float),
        normal.loc[0, list(SCORE_COLUMNS)].to_numpy(float),
        rtol=1e-5,
    )
    assert failed.loc[[2, 3, 4]].equals(normal.loc[[2, 3, 4]])


def test_lr_only_applies_the_refitted_low_res_members_and_says_what_it_costs(workspace, caplog):
    ws = workspace
    caplog.set_level("INFO")
    low = predict.choose(ws["bundle"], lr_only=True)
    assert (
        "--lr-only: 1 of 2 members (no super-resolution); val F1 0.2000 cross-validated (in-sample 0.2200) "
        "against 0.2500 (0.3000) with every member" in caplog.text
    )
    assert [m.run for m in low.members] == ["low"] and low.superres is None and low.groups == []
    (ws["root"] / "models/superres/generator.pth").unlink()  # not needed, not checked
    clips = predict.clips_of([str(ws["videos"] / "cam0.mp4"), str(ws["videos"] / "cam2.mp4")])
    predict.predict(low, clips, "low.csv", chunk=2, sr_batch=3, device="cpu")
    from tinyactions.data.video import read_video
    from tinyactions.score.dump import clip_item, load_model, score_batch, test_transform

    spec = ws["specs"]["low"]
    model, transform = load_model(spec, "models/low/epoch_1.pth", torch.device("cpu")), test_transform(spec, 1)
    packed = [transform(clip_item(c.video, c.video, frames=read_video(c.video))) for c in clips]
    alone = score_batch([model], packed, "fp32", torch.device("cpu"))[0]
    rows = bundle.read_predictions("low.csv")
    np.testing.assert_array_equal(rows[list(SCORE_COLUMNS)].to_numpy(), alone.astype(np.float64))
    expected = (alone >= np.asarray(low.thresholds)).astype(int)
    assert rows["labels"].tolist() == [" ".join(CLASSES[c] for c in np.flatnonzero(p)) for p in expected]
    only_sr = ws["bundle"].model_copy(update={"members": ws["bundle"].members[1:], "lr_only": None})
    with pytest.raises(bundle.BundleError, match="no member reads low-res video"):
        predict.choose(only_sr, lr_only=True)


def test_an_interrupted_run_resumes_where_it_stopped_to_the_same_bytes(workspace):
    ws = workspace
    clips = predict.clips_of([str(ws["videos"])])
    predict.predict(ws["bundle"], clips, "whole.csv", chunk=2, sr_batch=3, device="cpu")

    class Killed(Exception):
        pass

    def progress(description, total, done):
        def tick(n):
            raise Killed  # after the first batch was kept

        return tick

    with pytest.raises(Killed):
        predict.predict(ws["bundle"], clips, "resumed.csv", chunk=2, sr_batch=3, device="cpu", progress=progress)
    partial = ws["root"] / "resumed.csv.partial"
    assert (
        len(bundle.read_predictions(partial)) == 2 and not (ws["root"] / "resumed.csv").exists()
    )  # the first 2 readable
    with open(partial, "a") as f:
        f.write("cam2.mp4,half a row")  # a batch cut off while being written
    seen = []
    summary = predict.predict(
        ws["bundle"],
        clips,
        "resumed.csv",
        chunk=2,
        sr_batch=3,
        device="cpu",
        progress=lambda description, total, done: seen.append(done) or (lambda n: None),
    )
    assert seen == [2] and summary["videos_now"] == 3 and summary["videos"] == 5
    assert (ws["root"] / "resumed.csv").read_bytes() == (ws["root"] / "whole.csv").read_bytes()
    assert not partial.exists() and not (ws["root"] / "resumed.csv.partial.json").exists()
    # another batch size makes other batches: a fresh start, not a resume
    with pytest.raises(Killed):
        predict.predict(ws["bundle"], clips, "other.csv", chunk=2, sr_batch=3, device="cpu", progress=progress)
    seen.clear()
    predict.predict(
        ws["bundle"],
        clips,
        "other.csv",
        chunk=3,
        sr_batch=3,
        device="cpu",
        progress=lambda description, total, done: seen.append(done) or (lambda n: None),
    )
    assert seen == [0]


def test_inputs_annotation_files_find_their_videos(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    entries = [
        {"id": "00007", "path": "VIRAT_S_1/00007.mp4", "dim": [5, 10, 10]},
        {"id": "00003", "path": "VIRAT_S_1/00003.mp4", "dim": [5, 10, 10]},
    ]
    (tmp_path / "tv").mkdir()
    (tmp_path / "tv" / ANNOTATION_FILES["val"]).write_text(json.dumps(entries))
    (tmp_path / "mine.json").write_text(json.dumps(entries[:1]))
    clips = predict.clips_of(["tv/" + ANNOTATION_FILES["val"], "mine.json"])
    assert [(c.video, c.id) for c in clips] == [
        ("tv/videos/val/VIRAT_S_1/00007.mp4", "00007"),
        ("tv/videos/val/VIRAT_S_1/00003.mp4", "00003"),
        ("VIRAT_S_1/00007.mp4", "00007"),
    ]
    assert predict.clips_of(["mine.json"], video_root="elsewhere")[0].video == "elsewhere/VIRAT_S_1/00007.mp4"
    with pytest.raises(FileNotFoundError, match="^nope.mp4: no such video, folder or annotation file$"):
        predict.clips_of(["nope.mp4"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="^empty: no video files"):
        predict.clips_of(["empty"])


def test_a_changed_or_moved_checkpoint_stops_predict_naming_it(workspace):
    ws = workspace
    shutil.copy(ROOT / "params.yaml", ws["root"] / "params.yaml")

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "tinyactions.app.predict", str(ws["videos"]), "--out", "p.csv", *args],
            cwd=ws["root"],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    generator = ws["root"] / "models/superres/generator.pth"
    generator.write_bytes(generator.read_bytes() + b"\0")
    out = cli()
    assert (
        out.returncode == 1
        and out.stderr.strip().splitlines()[-1]
        == "predict: bundle: models/superres/generator.pth is not the file the bundle was made with (sha256 differs)"
    )
    (ws["root"] / "models/low/epoch_1.pth").rename(ws["root"] / "models/low/moved.pth")
    out = cli("--lr-only")
    assert (
        out.returncode == 1
        and out.stderr.strip().splitlines()[-1] == "predict: bundle: models/low/epoch_1.pth does not exist"
    )
    assert not (ws["root"] / "p.csv").exists()


def with_canaries(ws) -> bundle.Bundle:
    """The workspace's bundle with each member's canary scores, as its dump records them."""
    from tinyactions.score import canary
    from tinyactions.score.dump import canary_scores, load_model, test_transform

    loaded = ws["bundle"].model_dump(mode="json")
    for member in loaded["members"]:
        spec = ws["specs"][member["run"]]
        model = load_model(spec, member["checkpoint"], torch.device("cpu"))
        (scores,) = canary_scores([model], test_transform(spec, 1), "fp32", torch.device("cpu"))
        member["canary"] = scores.astype(float).tolist()
    loaded["scoring"].update(made_with={"precision": "fp32", "device": "cpu"}, versions=canary.versions())
    return bundle.parse(loaded)


def test_a_changed_clip_transform_stops_predict_naming_the_member(workspace, monkeypatch):
    """The canary clips, rescored first, catch a change to the code that scores: here the test transform's
    resize interpolation. Refused with the member and the difference named; --accept-changed-scores goes
    on and <out>.json records that it did."""
    from tinyactions.score import dump

    ws = workspace
    loaded = with_canaries(ws)
    clips = predict.clips_of([str(ws["videos"] / "cam0.mp4")])
    predict.predict(loaded, clips, "same.csv", chunk=2, sr_batch=3, device="cpu")
    record = json.loads((ws["root"] / "same.csv.json").read_text())["canary"]
    assert record["members_checked"] == 2 and record["max_difference"] == 0.0 and record["enforced"]
    real = dump.pipeline

    def nearest(spec, test_mode, views=1):
        steps = real(spec, test_mode, views)
        return [{**s, "interpolation": "nearest"} if s["type"] == "Resize" else s for s in steps]

    monkeypatch.setattr(dump, "pipeline", nearest)
    with pytest.raises(bundle.BundleError) as refused:
        predict.predict(loaded, clips, "changed.csv", chunk=2, sr_batch=3, device="cpu")
    message = str(refused.value)
    assert re.match(r"bundle: members\.(0 \(low@1\)|1 \(high@1\)) scores the canary clips [0-9.e-]+ away", message)
    assert "away from its dump (tolerance 0.0001 at fp32); changed since: no library, so the project code" in message
    assert not (ws["root"] / "changed.csv").exists()
    predict.predict(loaded, clips, "changed.csv", chunk=2, sr_batch=3, device="cpu", accept_changed_scores=True)
    record = json.loads((ws["root"] / "changed.csv.json").read_text())["canary"]
    assert record["accepted_changed_scores"] and record["max_difference"] > 1e-4


def test_predict_run_as_a_module_reads_its_settings(tmp_path, monkeypatch):
    """`python -m tinyactions.app.predict` (runpy, as the memory test starts it) resolves its settings model:
    the first error is the missing bundle, after the settings loaded."""
    import runpy
    import sys

    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["predict", "clip.mp4", "--out", "p.csv"])
    with pytest.raises(SystemExit, match=r"^predict: --bundle: submission/bundle.json does not exist"):
        runpy.run_module("tinyactions.app.predict", run_name="__main__")
