"""Data-loading workers at paper size: peak RSS of the trainer and of its workers, by worker start method.

    .venv/bin/python bench/worker_memory.py [--backbone uniformer] [--epochs 2] [--methods fork forkserver]

Trains the paper preset (UniFormer-B by default) at 224 px for a few epochs on a handful of generated clips,
one training process with one data worker, once per start method, each in its own process watched by
tinyactions.devtools.memory.TreeWatch. Peer: `fork`, the start method before (a worker forked from the trainer,
anew every epoch, inherits its heap); ours: `forkserver` (workers forked from a small process that
imported only the data code). Prints peak RSS per role and the training wall time, and the ratios.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tinyactions.devtools.memory import GIB, TreeWatch  # noqa: E402

RUN = """
import sys
from pathlib import Path
from tinyactions.train import workers
from tests.conftest import run_spec
from tinyactions.train.run import train
workers.START_METHOD = {method!r}
spec = run_spec(name="bench", backbone={backbone!r}, lr=1e-4, epochs={epochs}, preset="paper", input_size=224,
                batch_size=2, warmup_epochs=1, restart_period=3)
train(spec, Path({out!r}) / "models", Path({out!r}) / "metrics", {train_index!r}, {val_index!r}, {root!r}, workers=1)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbone", default="uniformer", choices=("ircsn", "uniformer"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--methods", nargs="+", default=["fork", "forkserver"])
    args = ap.parse_args()
    from tests.conftest import make_prepared

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = make_prepared(Path(tmp) / "data", n_train=args.clips, n_val=2, size=64, frames=24)
        for method in args.methods:
            code = RUN.format(
                method=method,
                backbone=args.backbone,
                epochs=args.epochs,
                out=f"{tmp}/{method}",
                train_index=data["train"],
                val_index=data["val"],
                root=data["root"],
            )
            start = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            with TreeWatch(proc.pid) as watch:
                _, err = proc.communicate()
            assert proc.returncode == 0, err[-3000:]
            workers = [p for p in watch.procs.values() if p.role == "worker"]
            results[method] = {
                "trainer": watch.peak("other"),
                "worker": watch.peak("worker"),
                "workers": len(workers),
                "forkserver": watch.peak("forkserver"),
                "tree": watch.peak_total,
                "seconds": time.monotonic() - start,
            }
            r = results[method]
            print(
                f"{method:11s} trainer {r['trainer'] / GIB:5.2f} GiB  worker {r['worker'] / GIB:5.2f} GiB "
                f"({r['workers']} started)  forkserver {r['forkserver'] / GIB:4.2f} GiB  "
                f"tree {r['tree'] / GIB:5.2f} GiB  {r['seconds']:6.1f} s",
                flush=True,
            )
    if {"fork", "forkserver"} <= set(results):
        a, b = results["forkserver"], results["fork"]
        print(
            f"forkserver / fork: worker peak RSS {a['worker'] / b['worker']:.2f}x, whole tree "
            f"{a['tree'] / b['tree']:.2f}x, wall time {a['seconds'] / b['seconds']:.2f}x"
        )


if __name__ == "__main__":
    main()
