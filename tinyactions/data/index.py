"""The prepared index: every annotation entry checked against its video file, one typed table per split.

Columns: ``sample_id`` (the key of a training sample: the video id, plus ``:flip`` for a balance copy),
``id``, ``split``, ``video_id``, ``path`` (relative to the dataset root), ``frames``/``width``/``height``
(what the file really holds), ``dim_*`` (what the JSON says), ``readable``, ``note`` (why a test video is
unreadable, or a small dim disagreement), ``digest`` (sha256 of the file's bytes), ``flip`` and the 26
``y_<class>`` label columns.

Real files legitimately differ a little from their ``dim`` (odd sizes rounded to even by encoders, a frame
or two counted differently): such entries are kept with a note, using what the file holds. Gross
disagreement is a bad entry. Bad train/val entries stop the stage (policy ``fail``) or are dropped and
reported (``skip``); a test entry is never dropped, so the submission keeps a line for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tinyactions.challenge.annotations import (
    ANNOTATION_FILES,
    CLASS_MAP_FILE,
    CLASSES,
    LABEL_COLUMNS,
    Entry,
    multi_hot,
    read_class_map,
    read_entries,
    video_file,
)
from tinyactions.core.filenames import as_text, is_text
from tinyactions.core.files import file_digest
from tinyactions.data.video import VideoDecodeError, probe

POLICIES = ("fail", "skip")


class BadEntriesError(ValueError):
    """Bad train/val entries under policy ``fail``; the message lists them."""


@dataclass(frozen=True)
class Tolerance:
    """How far a file may differ from its ``dim`` before the entry is rejected: the larger of an
    absolute and a relative slack."""

    frames_abs: int = 2
    frames_rel: float = 0.05
    pixels_abs: int = 2
    pixels_rel: float = 0.05

    def frames_ok(self, annotated: int, real: int) -> bool:
        return abs(annotated - real) <= max(self.frames_abs, self.frames_rel * annotated)

    def pixels_ok(self, annotated: int, real: int) -> bool:
        return abs(annotated - real) <= max(self.pixels_abs, self.pixels_rel * annotated)


def _probe(path: str) -> tuple[int, int, int, str] | str:
    try:
        info = probe(path)
        return info.frames, info.width, info.height, file_digest(path)
    except VideoDecodeError as e:
        return f"undecodable: {str(e).split(': ', 1)[-1]}"
    except Exception as e:  # any decoder crash on a corrupt file is a bad entry, not a stage crash
        return f"undecodable: {type(e).__name__}: {e}"


NOT_TEXT = "path is not valid text (it holds a lone surrogate)"  # no table can hold it: a bad entry


def probe_all(paths: list[str], workers: int, progress: Callable[[int], None] | None = None) -> list:
    """Decode every file (in parallel) and return (frames, width, height, digest) or an error string each."""
    if workers <= 1 or len(paths) < 8:
        out = []
        for p in paths:
            out.append(_probe(p))
            if progress:
                progress(1)
        return out
    out = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(_probe, paths, chunksize=16):
            out.append(result)
            if progress:
                progress(1)
    return out


def check_split(
    root: Path,
    split: str,
    classes: tuple[str, ...],
    tolerance: Tolerance,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate one split. Returns (rows, problems): ``rows`` has every entry with ``readable`` and
    ``bad`` flags; ``problems`` lists each rejected entry with its reason (severity ``reject``) and
    each tolerated disagreement (severity ``warning``)."""
    root = Path(root)
    labeled = split != "test"
    entries: list[Entry] = read_entries(root / ANNOTATION_FILES[split], labeled=labeled)
    infos = probe_all([str(video_file(root, split, e)) for e in entries if is_text(e.path)], workers, progress)
    infos.reverse()
    infos = [infos.pop() if is_text(e.path) else NOT_TEXT for e in entries]
    seen: set[int] = set()
    rows, problems = [], []
    for entry, info in zip(entries, infos):
        rel = as_text(str(Path("videos") / split / entry.path))
        reasons, notes = [], []
        if int(entry.id) in seen:  # by value: '7' and '007' are one video
            reasons.append(f"duplicate id {entry.id}")
        seen.add(int(entry.id))
        labels = np.zeros(len(classes), np.int8)
        if labeled:
            unknown = [name for name in entry.labels if name not in classes]
            if unknown:
                reasons.append(f"label not in class map: {', '.join(unknown)}")
            else:
                labels = multi_hot(entry.labels, classes)
        frames = width = height = 0
        digest = ""
        readable = isinstance(info, tuple)
        if not readable:
            reasons.append(info if info == NOT_TEXT or video_file(root, split, entry).exists() else "missing file")
        else:
            frames, width, height, digest = info
            for what, annotated, real, ok in (
                ("frames", entry.frames, frames, tolerance.frames_ok(entry.frames, frames)),
                ("width", entry.width, width, tolerance.pixels_ok(entry.width, width)),
                ("height", entry.height, height, tolerance.pixels_ok(entry.height, height)),
            ):
                if annotated != real:
                    (notes if ok else reasons).append(f"dim {what} {annotated} but file has {real}")
            if width != height:
                notes.append(f"non-square {width}x{height}")
        reasons = [as_text(r) for r in reasons]
        for reason in reasons:
            problems.append({"split": split, "id": entry.id, "path": rel, "severity": "reject", "reason": reason})
        for note in notes:
            problems.append({"split": split, "id": entry.id, "path": rel, "severity": "warning", "reason": note})
        rows.append(
            {
                "sample_id": entry.id,
                "id": entry.id,
                "split": split,
                "video_id": entry.video_id,
                "path": rel,
                "frames": frames,
                "width": width,
                "height": height,
                "dim_frames": entry.frames,
                "dim_width": entry.width,
                "dim_height": entry.height,
                "readable": readable,
                "bad": bool(reasons),
                "note": "; ".join(reasons + notes),
                "digest": digest,
                "flip": False,
                **dict(zip(LABEL_COLUMNS[: len(classes)], labels.tolist())),
            }
        )
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    problem_frame = pd.DataFrame(problems, columns=["split", "id", "path", "severity", "reason"])
    return frame, problem_frame


_COLUMNS = [
    "sample_id",
    "id",
    "split",
    "video_id",
    "path",
    "frames",
    "width",
    "height",
    "dim_frames",
    "dim_width",
    "dim_height",
    "readable",
    "bad",
    "note",
    "digest",
    "flip",
    *LABEL_COLUMNS,
]


def apply_policy(frame: pd.DataFrame, split: str, policy: str) -> pd.DataFrame:
    """Drop or refuse bad entries. Test entries are kept (flagged unreadable) whatever the policy,
    except duplicates and unknown labels, which cannot be answered twice or at all."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    bad = frame[frame["bad"]]
    if split == "test":
        duplicate = frame["note"].str.contains("duplicate id", regex=False)
        return frame[~duplicate].drop(columns="bad").reset_index(drop=True)
    if len(bad) and policy == "fail":
        listing = "\n".join(f"  {r.split} {r.id} ({r.path}): {r.note}" for r in bad.head(20).itertuples())
        more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise BadEntriesError(
            f"{len(bad)} bad {split} entries (data.bad_entries: fail; set it to skip "
            f"to drop and report them):\n{listing}{more}"
        )
    return frame[~frame["bad"]].drop(columns="bad").reset_index(drop=True)


def class_counts(frame: pd.DataFrame) -> pd.Series:
    """Positives per class among original (non-flipped) videos."""
    original = frame[~frame["flip"]]
    return pd.Series(original[list(LABEL_COLUMNS)].sum(axis=0).to_numpy(), index=list(CLASSES))


def tail_classes(train: pd.DataFrame, max_share: float | None = None, explicit: list[str] | None = None) -> list[str]:
    """The classes that count as tail for data balance: listed explicitly, or whose share of train
    videos is at most ``max_share``; classes without any train video are never tail (nothing to copy)."""
    counts = class_counts(train)
    if explicit is not None:
        unknown = sorted(set(explicit) - set(CLASSES))
        if unknown:
            raise ValueError(f"unknown tail classes: {', '.join(unknown)}")
        return [c for c in CLASSES if c in explicit and counts[c] > 0]
    share = counts / max(int((~train["flip"]).sum()), 1)
    return [c for c in CLASSES if 0 < share[c] <= max_share]


def originals(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of videos that decode, without balance copies (a copy shares its original's file)."""
    return frame[frame["readable"] & ~frame["flip"]]


def truth(frame: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Video ids and (n, 26) labels of a split's videos without balance copies (unreadable ones
    included: they are scored as NaN and count as missed)."""
    rows = frame[~frame["flip"]]
    return rows["id"].tolist(), rows[list(LABEL_COLUMNS)].to_numpy(np.int8)


def video_manifest(frames: list[pd.DataFrame]) -> dict[str, str]:
    """Relative path -> digest of every readable video (balance copies share their file), sorted.

    The pipeline's training and scoring stages depend on a manifest of the input kind they read
    (low-res here, super-resolved from the superres stage) instead of on a video folder, so a
    low-res run does not depend on super-resolution and the other way round."""
    rows = pd.concat([originals(f)[["path", "digest"]] for f in frames])
    return dict(sorted(zip(rows["path"], rows["digest"])))


def add_balance_copies(
    train: pd.DataFrame, tail: list[str], copies: int = 1, mirrored: dict[str, str] | None = None
) -> pd.DataFrame:
    """Data balance as the paper does it: every train video whose horizontally flipped copy carries a tail
    label gets ``copies`` such copies as extra rows (no new files; the loader flips). Labels whose
    meaning a mirror swaps (turning left/right) are swapped in the copy, and the tail test is on the
    copy's labels: a tail "turning left" gains the mirrored "turning right" videos, and a "turning left"
    video, whose copy turns right, gets none unless right is tail too."""
    if copies <= 0 or not tail:
        return train
    flipped = train[~train["flip"]].copy()
    flipped["flip"] = True
    if mirrored:
        original = flipped[list(LABEL_COLUMNS)].copy()
        for src, dst in mirrored.items():
            flipped[f"y_{dst}"] = original[f"y_{src}"]
    flipped = flipped[flipped[[f"y_{c}" for c in tail]].to_numpy().any(axis=1)]
    parts = [train]
    for k in range(copies):
        copy = flipped.copy()
        copy["sample_id"] = copy["id"] + (":flip" if copies == 1 else f":flip{k + 1}")
        parts.append(copy)
    return pd.concat(parts, ignore_index=True)


def cooccurrence(frame: pd.DataFrame) -> pd.DataFrame:
    """Class-by-class counts of videos carrying both labels (diagonal: positives)."""
    original = frame[~frame["flip"]]
    y = original[list(LABEL_COLUMNS)].to_numpy(np.int64)
    return pd.DataFrame(y.T @ y, index=list(CLASSES), columns=list(CLASSES))


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def check_class_map(root: Path) -> tuple[str, ...]:
    """The dataset's class map must be TinyVIRAT-v2's (names and order): labels index by it."""
    classes = read_class_map(Path(root) / CLASS_MAP_FILE)
    if classes != CLASSES:
        missing = sorted(set(CLASSES) - set(classes))
        extra = sorted(set(classes) - set(CLASSES))
        raise ValueError(
            f"{Path(root) / CLASS_MAP_FILE}: not the TinyVIRAT-v2 class map "
            f"(missing {missing}, unexpected {extra}, or a different order)"
        )
    return classes
