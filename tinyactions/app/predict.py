"""Apply the trained ensemble (``submission/bundle.json``) to new videos.

    tinyactions predict <video | folder | annotation json>... --out predictions.csv [--lr-only]

Inputs: video files, folders (every video file below them, in name order) and TinyVIRAT-format annotation
files (their entries' videos: under ``videos/<split>/`` beside a file named as TinyVIRAT names it, else
beside the file, or under ``--video-root``). Every file the bundle names is checked by sha256 first.

The bundle is read through its types (``bundle.load``: a ``Bundle``). Each video is decoded once, ahead of
scoring in bounded memory (``tinyactions.data.readahead``), and scored by the members as their dumps scored
it (``tinyactions.score.scorer``: SR members after the bundle's generator and the storage codec;
bench/README.md has its cost). The members' scores are averaged, thresholded and post-processed by
``bundle.decide``, the function that wrote answer.txt, so the same videos get the evaluate stage's
decisions. ``--lr-only`` applies the bundle's low-res members alone, refitted on val: no super-resolution,
at the val cost the bundle records and the log states.

Output: one row per video (``bundle.prediction_table``): id (annotation inputs), video, readable, problem,
labels, the 26 averaged scores. A video no decoder reads, or that fails to score even alone, gets
``readable = False`` and a problem; the run goes on. Videos are scored in batches of as many readable
clips as the members' dumps batched (the bundle records it; scores depend on a batch's composition within
float rounding), in input order; after every batch the rows so far are kept in ``<out>.partial``, so an
interrupted run resumes where it stopped and writes the same bytes as an uninterrupted one
(``tinyactions.core.partial_output``). Paths in the
bundle are relative to the project root: run it there. torch and the scoring and upscaling modules are
imported where videos are scored, so that ``tinyactions predict --help`` and its input errors come at once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tinyactions.app import stage
from tinyactions.challenge.annotations import (
    ANNOTATION_FILES,
    CLASSES,
    AnnotationError,
    Entry,
    read_entries,
    video_file,
)
from tinyactions.core import precision as numeric
from tinyactions.core.checkpoint_io import CheckpointError
from tinyactions.core.files import remove_orphans, write_json
from tinyactions.core.params import Reads
from tinyactions.core.partial_output import OutputBusy, PartialOutput
from tinyactions.core.paths import REPO
from tinyactions.core.progress import Phases
from tinyactions.data import readahead
from tinyactions.decide import bundle
from tinyactions.score import canary
from tinyactions.score.settings import ScoreExecution
from tinyactions.superres.settings import UpscaleExecution

if TYPE_CHECKING:  # imported where videos are scored (torch): --help and input errors come at once
    from tinyactions.score.scorer import Scorer

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")


class PredictExecution(ScoreExecution, UpscaleExecution):
    """What predict reads of ``execution``: the dumps' batch when the bundle records none, SR batches."""


class PredictReads(Reads):
    execution: PredictExecution


# this module also runs as __main__ (runpy), where pydantic cannot resolve a postponed annotation by name
PredictReads.model_rebuild(_types_namespace={"PredictExecution": PredictExecution})


@dataclass(frozen=True)
class Clip:
    video: str  # the file
    id: str  # the annotation's id; empty for a file or folder input


def clips_of(inputs: list[str], video_root: str | None = None) -> list[Clip]:
    """The videos named by ``inputs``, in order. An input that is none of a video file, a folder or an
    annotation file is an error; a listed video that is missing or unreadable is left to the decoder
    (its row says so)."""
    clips = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            # every name that says video is a row, a folder or special file named so included (its row
            # says what it is): nothing listed is dropped silently
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"{text}: no video files ({', '.join(VIDEO_SUFFIXES)}) in this folder")
            clips += [Clip(str(p), "") for p in found]
        elif path.suffix.lower() == ".json":
            clips += [Clip(str(annotated_video(path, e, video_root)), e.id) for e in read_entries(path, labeled=False)]
        elif path.is_file():
            clips.append(Clip(str(path), ""))
        else:
            raise FileNotFoundError(f"{text}: no such video, folder or annotation file")
    if not clips:
        raise FileNotFoundError("no videos to predict")
    return clips


def annotated_video(annotation: Path, entry: Entry, video_root: str | None) -> Path:
    """Where an annotation entry's video is: under ``video_root`` when given; for a file named as
    TinyVIRAT-v2 names a split's, where TinyVIRAT keeps it (``annotations.video_file``); else relative
    to the annotation file."""
    if video_root:
        return Path(video_root) / entry.path
    split = {name: split for split, name in ANNOTATION_FILES.items()}.get(annotation.name)
    return video_file(annotation.parent, split, entry) if split else annotation.parent / entry.path


def scorer_of(loaded: bundle.Bundle, device: str, sr_batch: int, root: str | os.PathLike = ".") -> Scorer:
    """The bundle's members (and generator, when a member reads SR video) loaded on ``device``, every file
    checked against its recorded sha256 first."""
    from tinyactions.score.scorer import Scorer
    from tinyactions.superres import upscale

    bundle.verify(loaded, root)
    members = [(m.spec(), bundle.project_file(m.checkpoint, root)) for m in loaded.members]
    sr = loaded.superres
    upscaler = None
    if sr is not None:
        job = upscale.UpscaleJob.of(sr.inference(), str(bundle.project_file(sr.generator, root)), sr_batch)
        upscaler = job.build(device)
    return Scorer(members, loaded.scoring.views, loaded.scoring.precision, device, upscaler, sr.storage if sr else None)


def describe(scorer: Scorer, loaded: bundle.Bundle) -> str:
    sr = f"; super-resolution {scorer.upscaler.precision} on {scorer.device}" if scorer.upscaler else ""
    text = f"{len(loaded.members)} members, scoring {scorer.precision} on {scorer.device}{sr}"
    made = loaded.scoring.made_with
    if made and made.model_dump() != numeric.record(scorer.precision, scorer.device):
        text += (
            f" (the pipeline scored them {made.precision} on {made.device}: scores agree with its "
            f"within rounding, not to the bit)"
        )
    return text


def predict_batch(scorer: Scorer, loaded: bundle.Bundle, batch: list[tuple[Clip, np.ndarray | None, str]]):
    """The prediction rows of one batch. A batch that fails after decoding (a clip the network cannot
    take, memory) is scored again clip by clip: only the clips that fail alone lose their row's scores."""
    problems = [problem for _, _, problem in batch]
    readable = [i for i, (_, frames, _) in enumerate(batch) if frames is not None]
    members = [np.full((len(batch), len(CLASSES)), np.nan, np.float32) for _ in loaded.members]

    def score(rows: list[int]) -> None:
        scored = scorer.score([batch[i][1] for i in rows], [batch[i][0].video for i in rows])
        for full, part in zip(members, scored):
            full[rows] = part

    try:
        if readable:
            score(readable)
    except Exception as e:  # noqa: BLE001 - one clip must not cost the others their rows
        log.warning("a batch failed (%s: %s); scoring its clips one by one", type(e).__name__, e)
        for i in readable:
            try:
                score([i])
            except Exception as clip_error:  # noqa: BLE001
                problems[i] = f"scoring failed: {type(clip_error).__name__}: {clip_error}"
                for full in members:
                    full[i] = np.nan
    scores, predicted = bundle.decide(loaded, members)
    return bundle.prediction_table(
        [c.id for c, _, _ in batch],
        [c.video for c, _, _ in batch],
        problems,
        scores,
        predicted,
    )


def canary_differences(scorer: Scorer, loaded: bundle.Bundle) -> list[tuple[int, float]]:
    """(member position, largest difference) between each member's scores of the canary clips now and at
    its dump, for the members whose dump recorded them (``tinyactions.score.canary``)."""
    out = []
    for position, (member, now) in enumerate(zip(loaded.members, scorer.canary_scores())):
        if member.canary is not None:
            out.append((position, float(np.max(np.abs(now - np.asarray(member.canary, np.float32))))))
    return out


def check_canaries(scorer: Scorer, loaded: bundle.Bundle, accept: bool) -> dict:
    """Rescore the canary clips and compare with the dumps' scores of them. Beyond the tolerance, on the
    device kind and precision the dumps ran with, the code or libraries that score changed since the bundle
    was made: a BundleError naming the member, the difference and the changed libraries, unless ``accept``
    (the returned record says so). Elsewhere the difference is only logged (rounding differs there)."""
    tolerance = canary.TOLERANCE[scorer.precision]
    made = loaded.scoring.made_with
    comparable = made is not None and made.model_dump() == numeric.record(scorer.precision, scorer.device)
    differences = canary_differences(scorer, loaded)
    worst = max(differences, key=lambda d: d[1], default=None)
    recorded = loaded.scoring.versions
    changed = canary.changed_versions(recorded, canary.versions()) if recorded else None
    record = {
        "members_checked": len(differences),
        "max_difference": worst[1] if worst else None,
        "tolerance": tolerance,
        "enforced": comparable,
        "changed_libraries": changed,
        "accepted_changed_scores": False,
    }
    if worst is None:
        log.warning("canary check: the bundle records no canary scores (made before them): scores not checked")
    elif not worst[1] <= tolerance:  # NaN included: a member that scores NaN now is no match
        message = (
            f"bundle: members.{worst[0]} ({loaded.members[worst[0]].name()}) scores the canary clips "
            f"{worst[1]:.3g} away from its dump (tolerance {tolerance:g} at {scorer.precision}); "
            f"changed since: {_cause(changed)}"
        )
        if comparable and not accept:
            raise bundle.BundleError(f"{message}; --accept-changed-scores predicts anyway")
        record["accepted_changed_scores"] = comparable
        log.warning("%s (%s)", message, "accepted" if comparable else "another device or precision: not enforced")
    else:
        log.info("canary check: %d members within %.3g of their dumps", len(differences), worst[1])
    return record


def _cause(changed: list[str] | None) -> str:
    if changed is None:
        return "unknown (the bundle records no library versions)"
    return ", ".join(changed) if changed else "no library, so the project code"


def predict(
    loaded: bundle.Bundle,
    clips: list[Clip],
    out: str | os.PathLike,
    chunk: int,
    sr_batch: int,
    device: str,
    root: str | os.PathLike = ".",
    progress: Callable[..., Callable[[int], None]] | None = None,
    accept_changed_scores: bool = False,
) -> dict:
    """Write the prediction rows of ``clips`` to ``out`` (CSV) and what they were made with to
    ``<out>.json``; returns a summary. ``progress`` (:mod:`tinyactions.core.progress`) counts videos;
    ``accept_changed_scores``: go on when the canary check finds the scores changed."""
    out = Path(out)
    listed = json.dumps([[c.video, c.id] for c in clips]).encode()
    state = PartialOutput(
        out,
        {
            "bundle": hashlib.sha256(json.dumps(loaded.model_dump(mode="json"), sort_keys=True).encode()).hexdigest(),
            "videos": hashlib.sha256(listed).hexdigest(),
            "chunk": chunk,
            "device": device,
        },
    )
    with state.locked():
        return _predict(loaded, clips, state, chunk, sr_batch, device, root, progress, accept_changed_scores)


def _predict(
    loaded: bundle.Bundle,
    clips: list[Clip],
    state: PartialOutput,
    chunk: int,
    sr_batch: int,
    device: str,
    root: str | os.PathLike,
    progress,
    accept_changed_scores: bool,
) -> dict:
    out = state.out
    remove_orphans(out.parent)  # a run killed while saving its state leaves a temporary file
    scorer = scorer_of(loaded, device, sr_batch, root)  # checks the files first
    log.info("%s", describe(scorer, loaded))
    canaries = check_canaries(scorer, loaded, accept_changed_scores)
    done = state.resume(",".join(bundle.PREDICTION_COLUMNS) + "\n")
    if done:
        log.info("resuming %s: %d of %d videos predicted already", out, done, len(clips))
    tick = progress("predict", len(clips), done) if progress else None
    started, predicted = time.perf_counter(), done
    for batch in readahead.batches(clips[done:], chunk, scorer.too_large):
        rows = predict_batch(scorer, loaded, batch)
        predicted += len(rows)
        state.append(rows.to_csv(header=False, index=False), predicted)
        for video, problem in rows.loc[~rows["readable"], ["video", "problem"]].itertuples(index=False):
            log.warning("%s: unreadable (%s)", video, problem)
        if tick:
            tick(len(rows))
    seconds = time.perf_counter() - started
    write_json(out.with_name(out.name + ".json"), {"bundle": state.fingerprint["bundle"], "canary": canaries})
    state.finish()
    table = bundle.read_predictions(out)
    summary = {
        "videos": len(table),
        "unreadable": int((~table["readable"]).sum()),
        "seconds_now": seconds,
        "videos_now": len(clips) - done,
        "clips_per_s": (len(clips) - done) / seconds if seconds else None,
    }
    log.info(
        "%d videos (%d unreadable) -> %s; %.2f clips/s",
        summary["videos"],
        summary["unreadable"],
        out,
        summary["clips_per_s"] or 0.0,
    )
    return summary


def choose(loaded: bundle.Bundle, lr_only: bool) -> bundle.Bundle:
    """The full bundle, or its low-res variant with what dropping the SR members costs on val, logged."""
    if not lr_only:
        return loaded
    if loaded.superres is None:
        log.info("--lr-only: every member reads low-res video; nothing to drop")
        return loaded
    low = bundle.lr_only(loaded)
    full_f1, low_f1 = loaded.val_f1, low.val_f1
    log.info(
        "--lr-only: %d of %d members (no super-resolution); val F1 %.4f cross-validated (in-sample %.4f) "
        "against %.4f (%.4f) with every member",
        len(low.members),
        len(loaded.members),
        low_f1.cv,
        low_f1.in_sample,
        full_f1.cv,
        full_f1.in_sample,
    )
    return low


def main(argv: list[str] | None = None, prog: str = "tinyactions predict") -> None:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="video files, folders of videos, TinyVIRAT annotation json files")
    ap.add_argument("--out", required=True, help="the CSV to write")
    ap.add_argument("--bundle", default=str(REPO.bundle), help="the ensemble (default: %(default)s)")
    ap.add_argument("--lr-only", action="store_true", help="low-res members only: no super-resolution")
    ap.add_argument(
        "--video-root", help="where an annotation file's videos are (default: videos/<split>/ beside the file)"
    )
    ap.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    ap.add_argument(
        "--accept-changed-scores",
        action="store_true",
        help="predict even when the canary check finds the members score otherwise than at their dumps",
    )
    args = ap.parse_args(argv)

    stage.logger("predict")
    s = PredictReads.load(REPO.params)
    path = Path(args.bundle)
    if not path.is_file():
        raise FileNotFoundError(f"--bundle: {path} does not exist (the evaluate stage writes {REPO.bundle})")
    loaded = choose(bundle.load(path), args.lr_only)
    clips = clips_of(args.inputs, args.video_root)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    # the batch the members' dumps scored with (scores depend on it within rounding), else this project's
    chunk = loaded.scoring.batch or s.execution.score_chunk
    with Phases("clip") as progress:
        predict(
            loaded,
            clips,
            args.out,
            chunk,
            s.execution.superres_batch,
            device,
            progress=progress,
            accept_changed_scores=args.accept_changed_scores,
        )


def command(argv: list[str], prog: str) -> None:
    """``tinyactions predict``: a known failure (a missing or changed file, a bundle of another shape) is
    one line."""
    errors = (FileNotFoundError, AnnotationError, bundle.BundleError, CheckpointError, OutputBusy)
    stage.run("predict", lambda: main(argv, prog), errors=errors)


if __name__ == "__main__":
    command(sys.argv[1:], "python -m tinyactions.app.predict")
