"""predict on the demo's test videos: the full ensemble vs --lr-only (its low-res members, no
super-resolution), same videos, same run; and where the full ensemble's time goes.

    make repro   # the demo's bundle and checkpoints
    .venv/bin/python bench/predict.py [--repeats 2]

Each mode runs ``repeats`` times, alternating; clips/s is videos / wall time of ``tinyactions.app.predict.predict``
(decode, SR, the storage round trip, scoring, decisions, writing), median over repeats. The full run's
time is split by timing the generator (``Upscaler.upscale``), the storage round trip (``as_stored``) and
the members' scoring (``Scorer.score`` less both). The val F1 of each mode is the bundle's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(owner, name: str, totals: dict, key: str) -> None:
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] = totals.get(key, 0.0) + time.perf_counter() - start

    setattr(owner, name, wrapper)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    import os

    os.chdir(ROOT)
    import torch

    from tinyactions import settings
    from tinyactions.app import predict
    from tinyactions.challenge.annotations import ANNOTATION_FILES
    from tinyactions.core.paths import REPO
    from tinyactions.decide import bundle
    from tinyactions.score import scorer
    from tinyactions.superres import upscale

    s = settings.load()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    full = bundle.load(REPO.bundle)
    modes = {"full": full, "lr_only": predict.choose(full, lr_only=True)}
    clips = predict.clips_of([str(Path(s.data.root) / ANNOTATION_FILES["test"])])
    totals: dict[str, float] = {}
    timed(upscale.Upscaler, "upscale", totals, "generator")
    timed(scorer, "as_stored", totals, "round trip")
    timed(scorer.Scorer, "score", totals, "members + SR")
    seconds = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            for mode, loaded in modes.items():
                totals.clear()
                start = time.perf_counter()
                predict.predict(
                    loaded,
                    clips,
                    Path(folder) / f"{mode}{repeat}.csv",
                    loaded.scoring.batch or s.execution.score_chunk,
                    s.execution.superres_batch,
                    device,
                )
                seconds[mode].append(time.perf_counter() - start)
                if mode == "full":
                    split = dict(totals)
    rate = {mode: len(clips) / statistics.median(t) for mode, t in seconds.items()}
    wall = seconds["full"][-1]
    split = {key: split.get(key, 0.0) for key in ("generator", "round trip", "members + SR")}  # none without SR
    scoring = split["members + SR"] - split["generator"] - split["round trip"]
    print(f"{len(clips)} test videos, {len(full.members)} members ({len(modes['lr_only'].members)} low-res)")
    print(
        f"full ensemble: {rate['full']:.2f} clips/s | --lr-only: {rate['lr_only']:.2f} clips/s | "
        f"ratio {rate['lr_only'] / rate['full']:.2f}x"
    )
    print(
        f"full, share of wall time (last repeat): generator {split['generator'] / wall:.0%}, storage round trip "
        f"{split['round trip'] / wall:.0%}, members' scoring {scoring / wall:.0%}, rest (decode, decide, write) "
        f"{1 - split['members + SR'] / wall:.0%}"
    )
    for mode, loaded in modes.items():
        f1 = loaded.val_f1
        print(f"val F1 {mode}: {f1.cv:.4f} cross-validated, {f1.in_sample:.4f} in-sample")


if __name__ == "__main__":
    main()
