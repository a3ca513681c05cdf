"""TinyVIRAT-v2 annotations: the 26 classes, the JSON schema, and where each entry's video lives.

Reading is strict about structure (a malformed file or entry stops with its file and position named)
and leaves content checks against the video files to :mod:`tinyactions.data.index` (run by the prepare stage).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from tinyactions.core.filenames import as_text
from tinyactions.core.untrusted import MIB, read_bytes

# Official class order of TinyVIRAT-v2's class_map.json (index = position).
CLASSES: tuple[str, ...] = (
    "Opening",
    "Interacts",
    "Pull",
    "activity_carrying",
    "Entering",
    "vehicle_moving",
    "Exiting",
    "Loading",
    "Talking",
    "activity_running",
    "vehicle_turning_left",
    "vehicle_stopping",
    "Riding",
    "Closing",
    "activity_walking",
    "Push",
    "specialized_using_tool",
    "vehicle_starting",
    "specialized_miscellaneous",
    "activity_standing",
    "Transport_HeavyCarry",
    "activity_gesturing",
    "vehicle_turning_right",
    "specialized_talking_phone",
    "specialized_texting_phone",
    "Misc",
)
NUM_CLASSES = len(CLASSES)
SPLITS = ("train", "val", "test")
ANNOTATION_FILES = {"train": "tiny_train_v2.json", "val": "tiny_val_v2.json", "test": "tiny_test_v2_public.json"}
CLASS_MAP_FILE = "class_map.json"
# Column names of the 26-hot label vector in prepared indexes and score tables, in class-map order.
LABEL_COLUMNS: tuple[str, ...] = tuple(f"y_{name}" for name in CLASSES)
# Column names of the 26 sigmoid scores in score tables (dumps, teacher scores).
SCORE_COLUMNS: tuple[str, ...] = tuple(f"s_{name}" for name in CLASSES)


# An entry's id: ASCII digits (TinyVIRAT's are 5 or 6 of them). Ids are compared by value ('7' and
# '007' are one video: answer.txt writes both as 00007).
MAX_ID_DIGITS = 18
ID = re.compile(f"[0-9]{{1,{MAX_ID_DIGITS}}}")
MAX_DIM = 2**31 - 1  # a dim value beyond any video (and within a 64-bit product of all three)


class AnnotationError(ValueError):
    """A dataset file that cannot be read as TinyVIRAT-v2; the message names the file and entry."""


@dataclass(frozen=True)
class Entry:
    """One annotation entry. ``dim`` is the annotated [frames, width, height]."""

    id: str
    video_id: str
    path: str
    frames: int
    width: int
    height: int
    labels: tuple[str, ...] | None  # None on the unlabeled public test split
    position: int  # index in the JSON list, for messages


def _load_json(path: Path):
    try:
        return read_json(path)
    except FileNotFoundError:
        raise AnnotationError(f"{path}: file not found") from None
    except ValueError as e:
        raise AnnotationError(str(e)) from None


# TinyVIRAT-v2's largest annotation file (train, 16,950 entries) is about 4 MB
ANNOTATION_MAX_BYTES = 64 * MIB


def read_json(path: str | os.PathLike, max_bytes: int = ANNOTATION_MAX_BYTES):
    """A JSON file from elsewhere: a regular file of at most ``max_bytes``, read once. Any way it is not
    that, or not JSON (bytes that are not UTF-8, a syntax error, nesting too deep to parse, NaN or
    Infinity), is a ValueError of one line naming the file (FileNotFoundError when it is missing)."""
    path = Path(path)
    data = read_bytes(path, max_bytes)
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason}: byte 0x{e.object[e.start]:02x})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply to read") from None
    except _NotANumber as e:
        raise ValueError(f"{path}: {e} is not a JSON number") from None


class _NotANumber(ValueError):
    """NaN, Infinity or -Infinity: Python's JSON reader takes them, JSON has no such number."""


def _no_constant(name: str):
    raise _NotANumber(name)


def read_class_map(path: Path) -> tuple[str, ...]:
    """Class names in index order from class_map.json, which must map names to 0..N-1 exactly."""
    data = _load_json(path)
    if not isinstance(data, dict) or not data:
        raise AnnotationError(f"{path}: expected an object mapping class name to index")
    bad = {k: v for k, v in data.items() if not isinstance(v, int) or isinstance(v, bool)}
    if bad:
        raise AnnotationError(f"{path}: non-integer class indexes {bad}")
    if sorted(data.values()) != list(range(len(data))):
        raise AnnotationError(f"{path}: class indexes must be exactly 0..{len(data) - 1}, got {sorted(data.values())}")
    return tuple(sorted(data, key=data.__getitem__))


def read_entries(path: Path, labeled: bool) -> list[Entry]:
    """Parse one annotation file. Structural problems raise :class:`AnnotationError`; a label
    outside the class map is not structural and is checked by the caller."""
    data = _load_json(path)
    if not isinstance(data, list):
        raise AnnotationError(f"{path}: expected a JSON list of entries, got {type(data).__name__}")
    entries = []
    for i, raw in enumerate(data):
        where = f"{path}: entry {i}"
        if not isinstance(raw, dict):
            raise AnnotationError(f"{where}: expected an object, got {type(raw).__name__}")
        if "id" in raw:
            where += f" (id {raw['id']!r})"
        for key in ("id", "path", "dim") + (("label",) if labeled else ()):
            if key not in raw:
                raise AnnotationError(f"{where}: missing key {key!r}")
        vid, rel = raw["id"], raw["path"]
        if not isinstance(vid, str) or not ID.fullmatch(vid):
            raise AnnotationError(f"{where}: 'id' must be a string of 1 to {MAX_ID_DIGITS} digits 0-9")
        if not isinstance(rel, str) or not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise AnnotationError(f"{where}: 'path' must be a relative file path")
        dim = raw["dim"]
        if (
            not isinstance(dim, list)
            or len(dim) != 3
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= MAX_DIM for d in dim)
        ):
            raise AnnotationError(f"{where}: 'dim' must be [frames, width, height] of integers from 0 to {MAX_DIM}")
        labels = None
        if labeled:
            labels = raw["label"]
            if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
                raise AnnotationError(f"{where}: 'label' must be a non-empty list of class names")
            labels = tuple(labels)
        entries.append(
            Entry(
                id=vid,
                video_id=as_text(str(raw["video_id"])) if "video_id" in raw else source_of(rel, vid),
                path=rel,
                frames=dim[0],
                width=dim[1],
                height=dim[2],
                labels=labels,
                position=i,
            )
        )
    return entries


def source_of(path: str, vid: str) -> str:
    """The source video of an entry without ``video_id``: its path's folder (TinyVIRAT keeps the clips of
    one source video in one folder), else its own id. Folds group by source: a fallback to the clip id
    would put one scene on both sides of a fold."""
    folder = PurePosixPath(path).parent
    return as_text(str(folder)) if str(folder) != "." else vid


def video_file(root: Path, split: str, entry: Entry) -> Path:
    """TinyVIRAT-v2 keeps videos under videos/<split>/<path> (test paths are flat)."""
    return Path(root) / "videos" / split / entry.path


def multi_hot(labels: tuple[str, ...], classes: tuple[str, ...] = CLASSES) -> np.ndarray:
    """26-hot int8 vector in class-map order; raises KeyError naming an unknown label."""
    index = {c: i for i, c in enumerate(classes)}
    vec = np.zeros(len(classes), dtype=np.int8)
    for name in labels:
        if name not in index:
            raise KeyError(name)
        vec[index[name]] = 1
    return vec
