"""Training throughput: the train stage's code path vs mmaction2's own tools/train.py with the
equivalent config, on the same prepared demo data, in one run.

    .venv/bin/python bench/train_throughput.py [--epochs 1] [--backbone ircsn]

Needs data/prepared (run `dvc repro prepare`). Both runs train the same RunSpec from scratch; clips/s
is batch_size / mean iteration time from the mmengine logs (first 20 iterations skipped). Expect
parity: the stage adds only resume/fingerprint bookkeeping around the same Runner.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dataclasses  # noqa: E402

from tinyactions import settings  # noqa: E402
from tinyactions.train.recipes import runner_config  # noqa: E402

ITER = re.compile(r"Epoch\(train\)\s+\[\d+\]\[(\d+)/\d+\].*?\stime: ([0-9.]+)")


def iteration_times(log: str) -> list[float]:
    return [float(t) for k, t in ITER.findall(log) if int(k) > 20]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--backbone", default="ircsn", choices=("ircsn", "uniformer"))
    args = ap.parse_args()
    spec = dataclasses.replace(
        settings.load(ROOT / "params.yaml").run_spec("ircsn_lr"),
        name="bench",
        backbone=args.backbone,
        lr=1e-3,
        epochs=args.epochs,
        pretrained=None,
    )
    train, val, root = "data/prepared/train.parquet", "data/prepared/val.parquet", "data/raw/tinyvirat-synth"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        ours = subprocess.run(
            [
                sys.executable,
                "-c",
                (
                    "from pathlib import Path\nfrom tinyactions.train.spec import RunSpec\n"
                    "from tinyactions.train.run import train\n"
                    f"train(RunSpec(**{spec.__dict__!r}), Path({tmp!r}) / 'models', Path({tmp!r}) / 'metrics', "
                    f"{train!r}, {val!r}, {root!r}, workers=1)\n"
                ),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert ours.returncode == 0, ours.stderr[-2000:]
        from mmengine.config import Config

        cfg = runner_config(spec, f"{tmp}/peer", train, val, root, f"{tmp}/peer-live", workers=1)
        Config(cfg).dump(f"{tmp}/peer_cfg.py")
        tool = Path(sys.executable).parent.parent / "lib/python3.11/site-packages/mmaction/.mim/tools/train.py"
        peer = subprocess.run(
            [sys.executable, str(tool), f"{tmp}/peer_cfg.py", "--work-dir", f"{tmp}/peer"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert peer.returncode == 0, peer.stderr[-2000:]
    rates = {}
    for name, run in (("train stage", ours), ("tools/train.py", peer)):
        times = iteration_times(run.stdout + run.stderr)
        rates[name] = spec.batch_size / (sum(times) / len(times))
        print(f"  {name:15s} {rates[name]:7.1f} clips/s  ({len(times)} logged iteration windows)")
    print(f"ratio train stage / tools/train.py: {rates['train stage'] / rates['tools/train.py']:.2f}x")


if __name__ == "__main__":
    main()
