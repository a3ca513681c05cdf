"""The prepare stage's job: check every annotation entry against its video, add the balance copies, and
write the prepared index with what later stages and the user read about the data.

Outputs: ``data/prepared/`` train/val/test.parquet (see ``tinyactions.data.index``), problems.csv (rejected
entries and tolerated disagreements), cooccurrence.csv (train), stats.json (counts, tail classes);
``data/manifests/lr.json`` (path -> sha256 of every readable video: what low-res runs depend on);
``metrics/data.json`` and ``metrics/class_frequency.csv`` for ``dvc metrics`` / ``dvc plots``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import ConfigDict

from tinyactions.challenge.annotations import ANNOTATION_FILES, CLASSES, SPLITS
from tinyactions.core.errors import SettingsError
from tinyactions.core.files import remove_orphans, write_json, write_table
from tinyactions.core.params import Count, Rate, Section, Share, View, fail
from tinyactions.core.paths import Workspace
from tinyactions.data.index import (
    Tolerance,
    add_balance_copies,
    apply_policy,
    check_class_map,
    check_split,
    class_counts,
    cooccurrence,
    tail_classes,
    video_manifest,
)
from tinyactions.data.settings import Dataset

log = logging.getLogger(__name__)


class DimTolerance(Section):
    frames: Count
    pixels: Count
    relative: Rate


class Data(Dataset):
    """The whole ``data`` section: the dataset, and how entries that disagree with their videos are treated."""

    model_config = ConfigDict(extra="forbid")

    bad_entries: Literal["fail", "skip"]
    dim_tolerance: DimTolerance


class PrepareExecution(View):
    """What prepare reads of ``execution``."""

    data_workers: Count  # decoding processes; 0 = every core


class Balance(Section):
    enabled: bool
    tail_max_share: Share
    tail_classes: list[str] | None
    copies: Count
    mirrored_labels: dict[str, str]

    def check(self, key: str) -> None:
        for name in self.tail_classes or []:
            if name not in CLASSES:
                fail(f"{key}.tail_classes", f"{name!r} is not a class of the class map")
        for a, b in self.mirrored_labels.items():
            if a not in CLASSES or b not in CLASSES:
                fail(f"{key}.mirrored_labels.{a}", f"{a!r}: {b!r} names a class outside the class map")


def prepare(
    data: Data,
    balance: Balance,
    workers: int,
    ws: Workspace,
    progress: Callable[..., Callable[[int], None]] | None = None,
) -> dict:
    """Write every output of the stage into ``ws`` for the dataset at ``data.root``; returns stats.json's content.
    ``progress`` (:mod:`tinyactions.core.progress`): one phase per split."""
    root = Path(data.root)
    remove_orphans(ws.metrics)  # what a killed run of this stage left half written beside its metrics
    if not (root / ANNOTATION_FILES["train"]).is_file():
        raise SettingsError(f"data.root: {root} holds no {ANNOTATION_FILES['train']} (not a TinyVIRAT-v2 root)")
    tol = data.dim_tolerance
    tolerance = Tolerance(
        frames_abs=tol.frames, pixels_abs=tol.pixels, frames_rel=tol.relative, pixels_rel=tol.relative
    )
    check_class_map(root)
    frames, problems = {}, []
    for split in SPLITS:
        checked, found = check_split(
            root, split, CLASSES, tolerance, workers, progress=progress(f"check {split}") if progress else None
        )
        problems.append(found)
        frames[split] = apply_policy(checked, split, data.bad_entries)
        log.info(
            "%s: %d entries, %d kept, %d rejected, %d warnings",
            split,
            len(checked),
            len(frames[split]),
            (found.severity == "reject").sum(),
            (found.severity == "warning").sum(),
        )
    problem_frame = pd.concat(problems, ignore_index=True)

    tail = (
        tail_classes(frames["train"], max_share=balance.tail_max_share, explicit=balance.tail_classes)
        if balance.enabled
        else []
    )
    frames["train"] = add_balance_copies(
        frames["train"], tail, balance.copies if balance.enabled else 0, balance.mirrored_labels
    )
    log.info("balance: %d tail classes, %d flipped copies added", len(tail), int(frames["train"]["flip"].sum()))

    for split, frame in frames.items():
        write_table(ws.index(split), frame)
    write_table(ws.prepared / "problems.csv", problem_frame)
    write_json(ws.lr_manifest, video_manifest(list(frames.values())))
    together = cooccurrence(frames["train"])
    write_table(ws.cooccurrence, together.reset_index(names="class"))
    counts = {split: class_counts(frames[split]).astype(int).to_dict() for split in ("train", "val")}
    is_reject, is_warning = problem_frame.severity == "reject", problem_frame.severity == "warning"
    stats = {
        "root": str(root),
        "videos": {s: int((~f["flip"]).sum()) for s, f in frames.items()},
        "train_samples": len(frames["train"]),
        "unreadable_test_videos": int((~frames["test"]["readable"]).sum()),
        "rejected": {s: int(((problem_frame.split == s) & is_reject).sum()) for s in SPLITS},
        "warnings": {s: int(((problem_frame.split == s) & is_warning).sum()) for s in SPLITS},
        "tail_classes": tail,
        "class_counts": counts,
    }
    write_json(ws.stats, stats)
    write_json(
        ws.metrics / "data.json",
        {k: stats[k] for k in ("videos", "train_samples", "unreadable_test_videos", "rejected", "warnings")},
    )
    write_table(
        ws.metrics / "class_frequency.csv",
        pd.DataFrame(
            {
                "class": list(CLASSES),
                "train": [counts["train"][c] for c in CLASSES],
                "val": [counts["val"][c] for c in CLASSES],
                "tail": [c in tail for c in CLASSES],
            }
        ),
    )
    return stats
