"""The superres stage: shards fill a shared cache, the union is the whole set, reruns hit the cache."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import make_prepared
from tests.dvcrepo import deep_update
from tinyactions.data.video import read_video
from tinyactions.superres import fit, network, upscale

ROOT = Path(__file__).resolve().parents[2]


def full_params(changes: dict) -> dict:
    """The shipped params.yaml with ``changes``: stages validate the whole file."""
    return deep_update(yaml.safe_load((ROOT / "params.yaml").read_text()), changes)


def run(repo, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "stages.superres", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stderr


@pytest.mark.slow
def test_shards_cache_and_assembly(tmp_path):
    repo = tmp_path / "repo"
    prepared = make_prepared(repo / "prep", n_train=5, n_val=3, size=16, frames=10)
    (repo / "data/prepared").mkdir(parents=True)
    shutil.copy(prepared["train"], repo / "data/prepared/train.parquet")
    shutil.copy(prepared["val"], repo / "data/prepared/val.parquet")
    # the test split: one readable video, one unreadable (flagged by prepare, skipped here)
    test = pd.read_parquet(prepared["val"]).head(2).copy()
    test["split"], test["readable"] = "test", [True, False]
    test.to_parquet(repo / "data/prepared/test.parquet", index=False)
    params = {
        "data": {"root": prepared["root"]},
        "superres": {
            "size": 32,
            "generator": {"mid_channels": 8, "propagation_blocks": 1, "cleaning_blocks": 1},
            "window": 8,
            "overlap": 2,
        },
        "execution": {"superres_batch": 2},
    }
    (repo / "params.yaml").write_text(yaml.safe_dump(full_params(params)))
    net = network.build_generator(network.GeneratorSpec(8, 1, 1))
    network.save_official(net, repo / "models/superres/generator.pth", {})

    logs = [run(repo, "--shard", "0/2"), run(repo, "--shard", "1/2")]
    done = [int(re.search(r"(\d+) to upscale", log).group(1)) for log in logs]
    # 8 videos (5 train, 3 val; the test video repeats a val path), but the val clips have the same bytes
    # as train clips 0-2 (same generator seed): the byte-keyed cache computes 5
    assert sum(done) == 5 and min(done) >= 1
    assert not (repo / "data/superres").exists(), "shards only fill the cache"
    final = run(repo)
    assert "0 to upscale" in final
    outputs = sorted(p.relative_to(repo / "data/superres") for p in (repo / "data/superres").rglob("*.mp4"))
    assert len(outputs) == 8
    frames = read_video(repo / "data/superres" / outputs[0])
    assert frames.shape[1:] == (32, 32, 3) and len(frames) == 10
    assert "0 to upscale" in run(repo), "a rerun is all cache hits"
    # the outputs are files of their own: damage to one (or to DVC's cache behind it) never reaches the cache
    entries = sorted((repo / "data/.superres-cache").rglob("*.mp4"))
    output = repo / "data/superres" / outputs[0]
    assert len(entries) == 5 and all(os.stat(e).st_ino != os.stat(output).st_ino for e in entries)
    good = output.read_bytes()
    os.truncate(output, 100)
    assert "0 to upscale" in run(repo) and output.read_bytes() == good, "the rerun repairs the output from the cache"
    # a damaged cache entry is found by its recorded sha256 and upscaled again, to the same bytes
    entry = next(e for e in entries if e.read_bytes() == good)
    os.truncate(entry, 100)
    log = run(repo)
    assert "1 to upscale" in log and "1 of 5 cache entries lack the bytes they were written with" in log
    assert entry.read_bytes() == good and output.read_bytes() == good
    # a cache from before entries had a record: every entry is upscaled again, in one warning line
    for record in (repo / "data/.superres-cache").rglob("*.sha256"):
        record.unlink()
    log = run(repo)
    assert "5 to upscale" in log and log.count("lack the bytes they were written with") == 1, log
    assert len(list((repo / "data/.superres-cache").rglob("*.sha256"))) == 5 and output.read_bytes() == good


@pytest.mark.slow
def test_two_cpu_workers_split_the_videos_and_match_one(tmp_path):
    """execution.superres_workers: 2 spawned processes each take every other video; the assembled set,
    its manifest and every decoded frame equal a one-process run's."""
    repo = tmp_path / "repo"
    prepared = make_prepared(repo / "prep", n_train=6, n_val=3, size=16, frames=10)
    (repo / "data/prepared").mkdir(parents=True)
    for split in ("train", "val"):
        shutil.copy(prepared[split], repo / f"data/prepared/{split}.parquet")
    pd.read_parquet(prepared["val"]).head(0).assign(split="test").to_parquet(repo / "data/prepared/test.parquet")
    net = network.build_generator(network.GeneratorSpec(8, 1, 1))
    network.save_official(net, repo / "models/superres/generator.pth", {})
    results = {}
    for workers in (1, 2):
        params = {
            "data": {"root": prepared["root"]},
            "superres": {
                "size": 32,
                "generator": {"mid_channels": 8, "propagation_blocks": 1, "cleaning_blocks": 1},
                "window": 8,
                "overlap": 2,
                "precision": "fp32",
            },
            "execution": {"superres_batch": 2, "superres_workers": workers},
        }
        (repo / "params.yaml").write_text(yaml.safe_dump(full_params(params)))
        shutil.rmtree(repo / "data/.superres-cache", ignore_errors=True)
        log = run(repo)
        assert f"{workers} worker(s) on cpu" in log and "6 to upscale" in log
        videos = sorted(p.relative_to(repo / "data/superres") for p in (repo / "data/superres").rglob("*.mp4"))
        results[workers] = (
            {str(v): read_video(repo / "data/superres" / v) for v in videos},
            json.loads((repo / "data/manifests/sr.json").read_text()),
        )
    (one, manifest_one), (two, manifest_two) = results[1], results[2]
    assert manifest_one == manifest_two and len(manifest_one["videos"]) == 9 == len(one)
    assert manifest_one["made_with"] == {"precision": "fp32", "device": "cpu"}
    assert one.keys() == two.keys() and all((one[k] == two[k]).all() for k in one)


@pytest.mark.slow
def test_a_failing_worker_stops_the_others_and_is_named(tmp_path):
    """A worker's error reaches the stage with its message (here: weights that do not exist), and the
    other worker is stopped rather than left to finish its share."""
    clip = tmp_path / "in.mp4"
    from tinyactions.data.video import write_video

    write_video(clip, upscale.resize_frames(np.zeros((4, 4, 4, 3), np.uint8), 8))
    job = upscale.UpscaleJob(
        network.GeneratorSpec(8, 1, 1), str(tmp_path / "missing.pth"), 32, 8, 2, 2, "square", "fp32"
    )
    pairs = [(str(clip), str(tmp_path / f"out{i}.mp4")) for i in range(4)]
    with pytest.raises(RuntimeError, match=r"^super-resolution worker failed: FileNotFoundError: .*missing\.pth"):
        upscale.process_parallel(pairs, job, ["cpu", "cpu"], "mp4v")
    assert not list(tmp_path.glob("out*.mp4"))


def test_fit_stage_with_a_checkpoint_copies_it_and_names_a_missing_one(tmp_path):
    """superres.weights = a path: the stage validates and copies the official checkpoint, writes the
    declared outputs (no comparison: real data has no clean renders), and a missing path names the key."""
    spec = {"mid_channels": 8, "propagation_blocks": 1, "cleaning_blocks": 1}
    network.save_official(
        fit.start_from_upsampling(network.build_generator(network.GeneratorSpec(**spec))), tmp_path / "g.pth", {}
    )
    params = full_params(
        {
            "data": {"source": "tinyvirat", "root": str(tmp_path)},
            "superres": {"weights": str(tmp_path / "g.pth"), "size": 32, "generator": spec},
        }
    )
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "stages.superres_fit"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    copied = network.build_generator(network.GeneratorSpec(**spec))
    network.load_official(copied, tmp_path / "models/superres/generator.pth")
    original = network.build_generator(network.GeneratorSpec(**spec))
    network.load_official(original, tmp_path / "g.pth")
    assert network.weights_digest(copied) == network.weights_digest(original)
    assert json.loads((tmp_path / "metrics/superres.json").read_text())["fitted"] is False
    assert list(pd.read_csv(tmp_path / "metrics/superres_clips.csv").columns) == fit.COMPARISON_COLUMNS
    assert len(pd.read_csv(tmp_path / "metrics/superres_fit.tsv", sep="\t")) == 0

    params["superres"]["weights"] = str(tmp_path / "missing.pth")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    out = subprocess.run(
        [sys.executable, "-m", "stages.superres_fit"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode != 0 and "superres.weights" in out.stderr and "missing.pth" in out.stderr
