"""Shared fixtures: tiny videos and datasets made by the tests themselves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinyactions.challenge.annotations import CLASSES
from tinyactions.data.video import write_video

SAMPLES = Path(__file__).parent / "samples"  # real TinyVIRAT-v2 annotation samples
ROOT = Path(__file__).resolve().parents[1]
# a bundle's SR settings for a generator small enough for tests (bundle.superres_entry adds its file)
TINY_SUPERRES = {
    "size": 32,
    "input": "square",
    "window": 8,
    "overlap": 2,
    "precision": "fp32",
    "storage": "mp4v",
    "spec": {"mid_channels": 4, "propagation_blocks": 1, "cleaning_blocks": 1},
}


def run_spec(**changes):
    """A run's recipe as the shipped params.yaml resolves it (ircsn_lr), with ``changes``: tests take
    every default from params.yaml, like the pipeline."""
    import dataclasses

    from tinyactions import settings

    return dataclasses.replace(settings.load(ROOT / "params.yaml").run_spec("ircsn_lr"), **changes)


def threshold_config(**changes):
    """The shipped params.yaml's threshold settings with ``changes``."""
    from tinyactions import settings
    from tinyactions.decide.settings import Thresholds

    t = settings.load(ROOT / "params.yaml").thresholds
    return Thresholds.model_validate({**t.model_dump(), **changes})


def smooth_clip(frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A clip with smooth content (survives mp4 compression well): a moving gradient and a square."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = rng.uniform(40, 200, 3)
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        img = np.stack([base[c] + 40 * np.sin((xx + 2 * t) / max(width, 1) * np.pi) for c in range(3)], -1)
        s = max(2, width // 4)
        x0 = (t * 2) % max(width - s, 1)
        img[height // 3 : height // 3 + s, x0 : x0 + s] = 250
        out[t] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def write_dataset(
    root: Path, splits: dict[str, list[dict]], class_map: dict | None = None, make_videos: bool = True
) -> Path:
    """A TinyVIRAT-v2 tree from entry dicts; each entry's video matches its ``dim`` unless the entry
    carries ``_file`` = (frames, width, height) or ``_file`` = None (no file written)."""
    from tinyactions.challenge.annotations import ANNOTATION_FILES

    root.mkdir(parents=True, exist_ok=True)
    (root / "class_map.json").write_text(json.dumps(class_map or {c: i for i, c in enumerate(CLASSES)}))
    for split, entries in splits.items():
        clean = []
        for k, e in enumerate(entries):
            spec = e.get("_file", tuple(e["dim"]))
            if make_videos and spec is not None:
                frames, w, h = spec
                write_video(root / "videos" / split / e["path"], smooth_clip(frames, h, w, seed=k))
            clean.append({key: v for key, v in e.items() if not key.startswith("_")})
        (root / ANNOTATION_FILES[split]).write_text(json.dumps(clean))
    return root


@pytest.fixture
def entry():
    """Factory for annotation entries."""

    def make(vid: str, dim=(20, 32, 32), labels=("activity_walking",), split="train", **extra):
        path = f"{vid}.mp4" if split == "test" else f"VIRAT_S_000001_00_000000_000100/{vid}.mp4"
        e = {
            "id": vid,
            "video_id": vid if split == "test" else "VIRAT_S_000001_00_000000_000100",
            "path": path,
            "dim": list(dim),
        }
        if split != "test":
            e["label"] = list(labels)
        e.update(extra)
        return e

    return make


def make_prepared(folder: Path, n_train: int = 12, n_val: int = 4, size: int = 24, frames: int = 20) -> dict:
    """A tiny TinyVIRAT-layout dataset and its prepared index (parquet), for training tests."""
    from tinyactions.data.index import Tolerance, apply_policy, check_split

    classes = ["activity_walking", "activity_standing", "Talking", "vehicle_moving"]
    splits = {}
    for split, count, digits in (("train", n_train, 6), ("val", n_val, 5)):
        splits[split] = [
            {
                "id": f"{i:0{digits}d}",
                "video_id": "VIRAT_S_000001_00_000000_000100",
                "path": f"VIRAT_S_000001_00_000000_000100/{i:0{digits}d}.mp4",
                "dim": [frames, size, size],
                "label": [classes[i % 4]],
            }
            for i in range(count)
        ]
    root = write_dataset(folder / "raw", splits)
    out = {"root": str(root)}
    for split in ("train", "val"):
        frame, _ = check_split(root, split, CLASSES, Tolerance(), workers=1)
        path = folder / f"{split}.parquet"
        apply_policy(frame, split, "fail").to_parquet(path, index=False)
        out[split] = str(path)
    return out


@pytest.fixture(scope="session")
def gpu_image(tmp_path_factory) -> Path:
    """The GPU machine's packages for this interpreter (tests/gpu_image.py), built once per session."""
    from tests.gpu_image import image_site

    return image_site(tmp_path_factory.mktemp("gpu-image") / "site")
