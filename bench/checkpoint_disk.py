"""Disk of one paper-size run's checkpoints: before (every epoch with its resume state) and after (only the
latest keeps optimizer and scheduler state: tinyactions.train.hooks.ResumeStateOnlyInLatestHook), one run.

    .venv/bin/python bench/checkpoint_disk.py [--epochs 12]

Each paper backbone (the paper preset's model with its 26-way head) takes one AdamW step so that the
optimizer holds its two moments, then one checkpoint of each kind is saved the way mmengine saves it
(meta, state_dict, optimizer, param_schedulers, message_hub) and the way the hook rewrites it (meta,
state_dict); sizes are measured on disk and multiplied by the epochs. Also printed: the published run
(weights only, as models/<run>) and what DVC's cache adds with copies vs links.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyactions import settings  # noqa: E402

GB = 1e9


def sizes(backbone: str) -> tuple[int, int]:
    from tinyactions.train.recipes import model_config
    from tinyactions.train.registry import build_model

    base = settings.load(ROOT / "params.yaml").run_spec("ircsn_lr")
    spec = dataclasses.replace(base, backbone=backbone, preset="paper", input_size=32, segments=2)
    model = build_model(model_config(spec))
    optim = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for p in model.parameters():  # one step's state without a forward pass at paper size
        p.grad = torch.zeros_like(p)
    optim.step()
    with tempfile.TemporaryDirectory() as tmp:
        full, slim = Path(tmp) / "full.pth", Path(tmp) / "slim.pth"
        meta = {"epoch": 1, "iter": 1}
        torch.save(
            {
                "meta": meta,
                "state_dict": model.state_dict(),
                "optimizer": optim.state_dict(),
                "param_schedulers": [],
                "message_hub": {},
            },
            full,
        )
        torch.save({"meta": meta, "state_dict": model.state_dict()}, slim)
        return full.stat().st_size, slim.stat().st_size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=12)
    args = ap.parse_args()
    n = args.epochs
    print(f"one run of {n} epochs, sizes in GB (1e9 bytes)")
    print(
        "| backbone | checkpoint with resume state | weights only | partial folder before | after | "
        "after / before | published run | + DVC cache, copy | + DVC cache, links |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for backbone in ("ircsn", "uniformer"):
        full, slim = sizes(backbone)
        before, after = n * full, full + (n - 1) * slim
        published = n * slim
        print(
            f"| {backbone} | {full / GB:.3f} | {slim / GB:.3f} | {before / GB:.2f} | {after / GB:.2f} | "
            f"{after / before:.2f} | {published / GB:.2f} | {2 * published / GB:.2f} | {published / GB:.2f} |"
        )


if __name__ == "__main__":
    main()
