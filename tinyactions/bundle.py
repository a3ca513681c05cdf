"""The trained ensemble as one file, ``submission/bundle.json``: what the evaluate stage decided on all of
val, in the terms a video needs to become a decision.

- ``classes``: the 26 class names in score order;
- ``members``: each checkpoint (file and sha256, recorded by its dump), its run's input (lr | sr) and
  recipe (the run's settings: backbone, preset, input size, sampling, segments, ...; no initial weights);
- ``weights`` (null: the plain mean), ``thresholds`` per class, ``groups`` (post-processing applied);
- ``scoring``: the dumps' test-time views and precision;
- ``superres`` (only when a member reads super-resolved video): the generator's file and sha256 and the
  settings it ran with.

``answer.txt`` is written from the bundle through ``decide``, the one function that turns member scores
into decisions; a predictor for new videos applies the same function to its own member scores.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import crossval as X
from . import ensemble as E
from . import paths
from .annotations import CLASSES
from .atomic import file_digest
from .settings import RunSpec

FILE = "bundle.json"  # beside answer.txt (paths.ANSWER)


def checkpoint_digests(table) -> dict[int, str]:
    """epoch -> sha256 of the checkpoint a score table was computed from (its dump records them)."""
    return {int(e): d for e, d in table.attrs.get("checkpoints", {}).items()}


def build(members: list[tuple[str, int]], specs: dict[str, RunSpec], digests: dict[tuple[str, int], str],
          weights: list[float] | None, thresholds: np.ndarray, groups: list[list[int]], views: int,
          precision: str, superres: dict | None) -> dict:
    """The bundle of (run, epoch) ``members``. ``digests`` holds each checkpoint's sha256; ``groups``
    are class indexes; ``superres`` (the SR settings, generator file and sha256) is kept only when a
    member reads super-resolved video."""
    missing = [f"{r}@{e}" for r, e in members if (r, e) not in digests]
    if missing:
        raise ValueError(f"no checkpoint digest recorded for {', '.join(missing)}: rerun their dump stages")
    entries = [{"run": run, "epoch": epoch, "input": specs[run].input,
                "checkpoint": str(paths.MODELS / run / f"epoch_{epoch}.pth"), "sha256": digests[(run, epoch)],
                "recipe": recipe(specs[run])} for run, epoch in members]
    uses_sr = any(m["input"] == "sr" for m in entries)
    return {"classes": list(CLASSES), "members": entries, "weights": weights,
            "thresholds": [float(t) for t in thresholds],
            "groups": [[CLASSES[c] for c in g] for g in groups],
            "scoring": {"views": views, "precision": precision},
            "superres": superres if uses_sr else None}


def recipe(spec: RunSpec) -> dict:
    """A member's network and test-time input as its run defines them: the run's settings without the
    initial weights (the checkpoint replaces them; a path would name a host)."""
    return {k: v for k, v in asdict(spec).items() if k != "pretrained"}


def superres_entry(generator_file: str | Path, settings: dict) -> dict:
    """The SR part of a bundle: the generator's file and sha256 with ``settings``."""
    return {"generator": str(generator_file), "sha256": file_digest(generator_file), **settings}


def decide(bundle: dict, member_scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(averaged scores, 0/1 predictions) from each member's (videos, 26) scores in bundle order. A
    video no member could score (NaN) gets NaN scores and no class."""
    if len(member_scores) != len(bundle["members"]):
        raise ValueError(f"{len(member_scores)} score matrices for {len(bundle['members'])} bundle members")
    if bundle["classes"] != list(CLASSES):
        raise ValueError("the bundle's class order differs from this code's class map")
    scores = E.average(member_scores, bundle["weights"])
    index = {c: i for i, c in enumerate(CLASSES)}
    groups = [[index[c] for c in g] for g in bundle["groups"]]
    decision = X.Decision(members=[], thresholds=np.asarray(bundle["thresholds"], float), groups=groups)
    return scores, X.predict(decision, scores)


def load(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def verify(bundle: dict, root: str | Path = ".") -> None:
    """Every file the bundle names exists under ``root`` with its recorded sha256; else an error naming it."""
    files = [(m["checkpoint"], m["sha256"]) for m in bundle["members"]]
    if bundle.get("superres"):
        files.append((bundle["superres"]["generator"], bundle["superres"]["sha256"]))
    for rel, digest in files:
        path = Path(root) / rel
        if not path.is_file():
            raise FileNotFoundError(f"bundle: {rel} does not exist")
        if file_digest(path) != digest:
            raise ValueError(f"bundle: {rel} is not the checkpoint the bundle was made with (sha256 differs)")
