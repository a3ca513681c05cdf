"""Stage prepare: validate every annotation entry against its video and write the prepared index.

Outputs (data/prepared/): train/val/test.parquet (see tinyactions.index), problems.csv (rejected
entries and tolerated disagreements), cooccurrence.csv (train), stats.json (counts, tail classes);
data/manifests/lr.json (path -> sha256 of every readable video: what low-res runs depend on);
metrics/data.json and metrics/class_frequency.csv for `dvc metrics` / `dvc plots`.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from tinyactions import params as P
from tinyactions.annotations import ANNOTATION_FILES, CLASSES, SPLITS, AnnotationError
from tinyactions.atomic import write_json, write_table
from tinyactions.index import (BadEntriesError, Tolerance, add_balance_copies, apply_policy, check_class_map,
                               check_split, class_counts, cooccurrence, default_workers, tail_classes,
                               video_manifest)

OUT = Path("data/prepared")
MANIFEST = Path("data/manifests/lr.json")
METRICS = Path("metrics")


def main() -> None:
    log = P.setup_logging("prepare")
    p = P.load()
    root = Path(P.get(p, "data.root", str))
    policy = P.get(p, "data.bad_entries", str, choices=("fail", "skip"))
    workers = P.get(p, "execution.data_workers", int, minimum=0) or default_workers()
    tolerance = Tolerance(frames_abs=P.get(p, "data.dim_tolerance.frames", int, minimum=0),
                          pixels_abs=P.get(p, "data.dim_tolerance.pixels", int, minimum=0),
                          frames_rel=P.get(p, "data.dim_tolerance.relative", float, minimum=0.0),
                          pixels_rel=P.get(p, "data.dim_tolerance.relative", float, minimum=0.0))
    balance = P.get(p, "balance.enabled", bool)
    copies = P.get(p, "balance.copies", int, minimum=0)
    max_share = P.get(p, "balance.tail_max_share", float, minimum=0.0, maximum=1.0)
    explicit = P.get(p, "balance.tail_classes", (list, type(None)))
    mirrored = P.get(p, "balance.mirrored_labels", dict)
    for key, value in mirrored.items():
        if key not in CLASSES or value not in CLASSES:
            raise P.ParamError(f"balance.mirrored_labels: {key!r}: {value!r} names a class outside the class map")
    if not (root / ANNOTATION_FILES["train"]).is_file():
        raise P.ParamError(f"data.root: {root} holds no {ANNOTATION_FILES['train']} (not a TinyVIRAT-v2 root)")

    check_class_map(root)
    frames, problems = {}, []
    for split in SPLITS:
        with tqdm(unit="video", desc=f"check {split}") as bar:
            checked, found = check_split(root, split, CLASSES, tolerance, workers, progress=bar.update)
        problems.append(found)
        frames[split] = apply_policy(checked, split, policy)
        log.info("%s: %d entries, %d kept, %d rejected, %d warnings", split, len(checked), len(frames[split]),
                 (found.severity == "reject").sum(), (found.severity == "warning").sum())
    problem_frame = pd.concat(problems, ignore_index=True)

    tail = tail_classes(frames["train"], max_share=max_share, explicit=explicit) if balance else []
    frames["train"] = add_balance_copies(frames["train"], tail, copies if balance else 0, mirrored)
    log.info("balance: %d tail classes, %d flipped copies added", len(tail), int(frames["train"]["flip"].sum()))

    for split, frame in frames.items():
        write_table(OUT / f"{split}.parquet", frame)
    write_table(OUT / "problems.csv", problem_frame)
    write_json(MANIFEST, video_manifest(list(frames.values())))
    co = cooccurrence(frames["train"])
    write_table(OUT / "cooccurrence.csv", co.reset_index(names="class"))
    counts = {split: class_counts(frames[split]).astype(int).to_dict() for split in ("train", "val")}
    stats = {
        "root": str(root),
        "videos": {s: int((~f["flip"]).sum()) for s, f in frames.items()},
        "train_samples": len(frames["train"]),
        "unreadable_test_videos": int((~frames["test"]["readable"]).sum()),
        "rejected": {s: int(((problem_frame.split == s) & (problem_frame.severity == "reject")).sum()) for s in SPLITS},
        "warnings": {s: int(((problem_frame.split == s) & (problem_frame.severity == "warning")).sum()) for s in SPLITS},
        "tail_classes": tail,
        "class_counts": counts,
    }
    write_json(OUT / "stats.json", stats)
    write_json(METRICS / "data.json", {k: stats[k] for k in ("videos", "train_samples", "unreadable_test_videos",
                                                             "rejected", "warnings")})
    write_table(METRICS / "class_frequency.csv", pd.DataFrame(
        {"class": list(CLASSES), "train": [counts["train"][c] for c in CLASSES],
         "val": [counts["val"][c] for c in CLASSES], "tail": [c in tail for c in CLASSES]}))


if __name__ == "__main__":
    try:
        main()
    except (AnnotationError, BadEntriesError, P.ParamError, ValueError) as e:
        print(f"prepare: {e}", file=sys.stderr)
        sys.exit(1)
