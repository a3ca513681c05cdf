"""The paper configuration's smallest real run (the paper smoke run, the CUDA check): a TinyVIRAT-v2 root
in the real layout and schema, clips of 10-128 px and 6-24 frames, and how long its runs train."""

from __future__ import annotations

from pathlib import Path

CLIPS = {"train": 6, "val": 6, "test": 3}
EPOCHS = 2  # every run: 2 epochs give each run 2 distinct ensemble members (best, last)


def generate_root(root: Path, scratch: Path) -> None:
    """Write the root at ``root`` (its clean renders, unused, under ``scratch``)."""
    from tinyactions.data.synth import Synth, generate

    generate(
        Synth.model_validate(
            {
                "seed": 1,
                "videos": CLIPS,
                "hr_size": 128,
                "lr_size": {"min": 10, "max": 128, "median": 48},
                "frames": {"min": 6, "max": 24, "median": 12},
                "sources": {
                    "train": {"virat": 3, "meva": 1},
                    "val": {"virat": 2, "meva": 1},
                    "test": {"virat": 1, "meva": 0},
                },
            }
        ),
        root,
        scratch,
    )
