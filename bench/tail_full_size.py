"""The evaluate stage at TinyVIRAT-v2 size: seconds and peak RSS, this tree against a peer revision.

    PATH=$PWD/.venv/bin:$PATH python bench/tail_full_size.py [--peer REV] [--keep DIR]

Writes one workspace the size of the real task: val 3,308 and test 6,097 videos (the real split
sizes), labels long-tailed over the 26 classes and clustered by source video (about 16 clips per
source, as in TinyVIRAT-v2), and score tables of 6 runs x 12 epochs (5 runs and 1 student, the paper
profile) whose scores carry the labels plus noise. Then runs `evaluate.evaluate` on it twice, in
separate processes: with the code of this tree and with the code of ``--peer`` (a git revision, by
default HEAD), each with its own params.yaml shaped to the same runs and the paper profile's 12-member
mix. Run it pinned to two cores (``taskset -c 0,1``) on a bigger machine.
Prints seconds and peak RSS of both and the ratios this / peer.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tinyactions.challenge.annotations import CLASSES, LABEL_COLUMNS, SCORE_COLUMNS  # noqa: E402

VAL, TEST, EPOCHS = 3308, 6097, 12
CLIPS_PER_SOURCE = 16
RUNS = {
    "ircsn_lr": ("ircsn", "lr", "bce"),
    "uniformer_lr": ("uniformer", "lr", "bce"),
    "ircsn_lr_asl": ("ircsn", "lr", "asl"),
    "ircsn_sr": ("ircsn", "sr", "bce"),
    "uniformer_sr": ("uniformer", "sr", "bce"),
}
STUDENT = "ircsn_kd"
# the paper profile's mix; a revision without repeated members takes ircsn_sr@9 for the second best
MEMBERS = [
    "uniformer_lr@best",
    "uniformer_sr@best",
    "uniformer_sr@last",
    "ircsn_lr@best",
    "ircsn_lr@last",
    "ircsn_lr_asl@best",
    "ircsn_lr_asl@last",
    "ircsn_sr@best",
    "ircsn_sr@best",
    "ircsn_sr@last",
    "ircsn_kd@best",
    "ircsn_kd@last",
]
MEMBERS_DISTINCT_NAMES = [m if i != 8 else "ircsn_sr@9" for i, m in enumerate(MEMBERS)]


def labels(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(n, 26) long-tailed multi-labels and the source video of each clip; clips of one source share
    a scene, so they share label tendencies."""
    share = 0.5 * 0.75 ** np.arange(len(CLASSES))  # the most frequent class in half the clips, the rarest ~0.0003
    sources = np.arange(n) // CLIPS_PER_SOURCE
    scene = rng.normal(0, 0.8, (sources.max() + 1, len(CLASSES)))[sources]
    logit = np.log(share / (1 - share)) + scene
    y = (rng.random((n, len(CLASSES))) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    empty = y.sum(1) == 0
    y[empty, 0] = 1  # every clip has a label
    return y, sources


def write_workspace(root: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    prepared = root / "data/prepared"
    prepared.mkdir(parents=True)
    y_val, src_val = labels(VAL, rng)
    y_train, _ = labels(9000, rng)
    ids = {"val": [f"{i:05d}" for i in range(VAL)], "test": [f"{i:05d}" for i in range(TEST)]}
    val = pd.DataFrame(y_val, columns=list(LABEL_COLUMNS))
    val.insert(0, "readable", True)
    val.insert(0, "flip", False)
    val.insert(0, "video_id", [f"VIRAT_S_{s:06d}" for s in src_val])
    val.insert(0, "path", [f"videos/val/VIRAT_S_{s:06d}/{i}.mp4" for s, i in zip(src_val, ids["val"])])
    val.insert(0, "id", ids["val"])
    val.to_parquet(prepared / "val.parquet")
    test = pd.DataFrame({"id": ids["test"], "video_id": ids["test"], "flip": False, "readable": True})
    test.to_parquet(prepared / "test.parquet")
    counts = {c: int(n) for c, n in zip(CLASSES, y_train.sum(0))}
    (prepared / "stats.json").write_text(
        json.dumps({"videos": {"train": len(y_train)}, "class_counts": {"train": counts}})
    )
    pd.DataFrame(y_train.T.astype(int) @ y_train.astype(int), index=list(CLASSES), columns=list(CLASSES)).to_csv(
        prepared / "cooccurrence.csv"
    )
    scores = root / "data/scores"
    scores.mkdir(parents=True)
    y_test, _ = labels(TEST, rng)
    truth = {"val": y_val, "test": y_test}
    hard = {split: rng.normal(0, 1.3, y.shape) for split, y in truth.items()}  # what every network gets wrong
    for r, name in enumerate([*RUNS, STUDENT]):
        frames = []
        for epoch in range(1, EPOCHS + 1):
            signal = 0.8 + 0.04 * epoch + 0.1 * r  # single checkpoints: macro F1 about 0.2-0.3 at 0.5
            for split, y in truth.items():
                logit = signal * (2 * y - 1) - 1.5 + hard[split] + rng.normal(0, 1.0, y.shape)
                frame = pd.DataFrame((1 / (1 + np.exp(-logit))).astype(np.float32), columns=list(SCORE_COLUMNS))
                frame.insert(0, "readable", True)
                frame.insert(0, "sample_id", ids[split])
                frame.insert(0, "id", ids[split])
                frame.insert(0, "split", split)
                frame.insert(0, "epoch", epoch)
                frame.insert(0, "run", name)
                frames.append(frame)
        table = pd.concat(frames, ignore_index=True)
        table.attrs = {  # what a dump records beside its scores (the bundle copies it)
            "precision": "fp32",
            "device": "cpu",
            "batch": 64,
            "checkpoints": {str(e): f"{r:02d}{e:02d}".ljust(64, "0") for e in range(1, EPOCHS + 1)},
            "canary": {str(e): rng.random((3, len(CLASSES))).tolist() for e in range(1, EPOCHS + 1)},
            "versions": {"torch": "2.14.1"},
        }
        table.to_parquet(scores / f"{name}.parquet")
    (root / "models/superres").mkdir(parents=True)
    (root / "models/superres/generator.pth").write_bytes(b"the bundle records its sha256 only")


def params_for(tree_params: dict) -> dict:
    """The tree's own params.yaml with the bench's runs, student and members (either schema)."""
    p = dict(tree_params)
    p["runs"] = {
        n: {"backbone": b, "input": i, "loss": loss, "lr": 0.0001, "epochs": EPOCHS} for n, (b, i, loss) in RUNS.items()
    }
    if "students" in p:
        p["students"] = {
            STUDENT: {
                "backbone": "ircsn",
                "input": "lr",
                "loss": "kd",
                "teacher": "ircsn_sr",
                "teacher_epoch": "last",
                "alpha": 0.5,
                "lr": 0.0001,
                "epochs": EPOCHS,
            }
        }
        p["ensemble"]["members"] = MEMBERS
    else:
        p["kd"]["student"].update(name=STUDENT, epochs=EPOCHS)
        p["ensemble"]["members"] = MEMBERS_DISTINCT_NAMES
    if "ablation_runs" in p["ensemble"]:  # the demo's ablation runs are not the bench's
        p["ensemble"]["ablation_runs"] = []
    return p


RUNNER = """
import resource, sys, time
sys.path.insert(0, sys.argv[1])
from tinyactions.decide import evaluate
from tinyactions import settings
from tinyactions.core.paths import REPO
start = time.perf_counter()
board = evaluate.evaluate(settings.load(), REPO)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, flush=True)
"""


def measure(code: Path, params: dict, workspace: Path) -> tuple[float, float, dict]:
    (workspace / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = subprocess.run([sys.executable, "-c", RUNNER, str(code)], cwd=workspace, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    seconds, gib = map(float, out.stdout.split()[-2:])
    board = workspace / "metrics/leaderboard.json"  # metrics/evaluate.json before 2026-12-05
    return seconds, gib, json.loads((board if board.is_file() else workspace / "metrics/evaluate.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer", default="HEAD", help="git revision to compare with (default HEAD)")
    ap.add_argument("--keep", help="write the workspace here and keep it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(args.keep) if args.keep else Path(tmp) / "workspace"
        start = time.perf_counter()
        write_workspace(workspace)
        print(
            f"workspace: val {VAL}, test {TEST}, {len(RUNS) + 1} runs x {EPOCHS} epochs "
            f"({time.perf_counter() - start:.0f} s to write)"
        )
        peer = Path(tmp) / "peer"
        peer.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.peer, "tinyactions", "params.yaml"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(peer)], input=archive, check=True)
        results = {}
        for label, code in (("peer " + args.peer, peer), ("this tree", ROOT)):
            params = params_for(yaml.safe_load((code / "params.yaml").read_text()))
            seconds, gib, board = measure(code, params, workspace)
            results[label] = (seconds, gib)
            print(f"{label:>16}: {seconds:7.1f} s, peak RSS {gib:.2f} GiB, f1 {board['f1']:.4f}")
        (s0, m0), (s1, m1) = results.values()
        print(f"ratio this / peer: time {s1 / s0:.3f}, peak RSS {m1 / m0:.3f}")


if __name__ == "__main__":
    main()
