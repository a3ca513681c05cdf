"""Apply the trained ensemble (``submission/bundle.json``) to new videos.

    tinyactions predict <video | folder | annotation json>... --out predictions.csv [--lr-only]

Inputs: video files, folders (every video file below them, in name order) and TinyVIRAT-format annotation
files (their entries' videos: under ``videos/<split>/`` beside a file named as TinyVIRAT names it, else
beside the file, or under ``--video-root``). Every file the bundle names is checked by sha256 first.

Each video is decoded once. Members on low-res input score it as it is; members on super-resolved input
score it after the bundle's generator has upscaled it and the frames have gone through the storage codec
the pipeline stored SR video with (what those members were trained and scored on; bench/README.md has
its cost). The members' scores are averaged, thresholded and post-processed by ``bundle.decide``, the
function that wrote answer.txt, so the same videos get the evaluate stage's decisions. ``--lr-only``
applies the bundle's low-res members alone, refitted on val: no super-resolution, at the val cost the
bundle records and the log states.

Output: one row per video (``bundle.prediction_table``): id (annotation inputs), video, readable, problem,
labels, the 26 averaged scores. A video no decoder reads, or that fails to score even alone, gets
``readable = False`` and a problem; the run goes on. Videos are scored in batches of as many readable
clips as the members' dumps batched (the bundle records it; scores depend on a batch's composition within
float rounding), in input order; after every batch the rows so far are kept in ``<out>.partial``, so an
interrupted run resumes where it stopped and writes the same bytes as an uninterrupted one. Paths in the
bundle are relative to the project root: run it there. torch and the scoring and upscaling modules are
imported where videos are scored, so that ``tinyactions predict --help`` and its input errors come at once.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

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
from tinyactions.core.execution import ExecutionReads
from tinyactions.core.filenames import as_written
from tinyactions.core.files import remove_orphans, write_json
from tinyactions.core.paths import REPO
from tinyactions.core.progress import Phases
from tinyactions.data.video import CODECS, MAX_PIXELS, read_video, write_video
from tinyactions.decide import bundle
from tinyactions.score import canary
from tinyactions.train.spec import RunSpec

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")


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


class Ensemble:
    """A bundle's members loaded on one device, grouped by the clip they read (input kind and test
    pipeline): each group's clips are prepared once and scored by all of its members."""

    def __init__(self, loaded: dict, device: str, sr_batch: int, root: str | os.PathLike = "."):
        import torch

        from tinyactions.score.dump import load_model, test_transform

        bundle.verify(loaded, root)
        self.bundle, self.device = loaded, torch.device(device)
        self.precision = numeric.resolve(loaded["scoring"]["precision"], "scores", self.device)
        self.groups: dict[tuple, tuple] = {}  # (input, pipeline) -> (transform, member positions, models)
        for position, member in enumerate(loaded["members"]):
            try:
                spec = RunSpec(**member["recipe"], pretrained=None)
            except TypeError as e:
                raise bundle.BundleError(f"bundle: members.{position}.recipe is not a run's recipe ({e})") from None
            key = (spec.input, spec.sampling, spec.segments, spec.dense_interval, spec.input_size)
            if key not in self.groups:
                self.groups[key] = (test_transform(spec, loaded["scoring"]["views"]), [], [])
            self.groups[key][1].append(position)
            self.groups[key][2].append(load_model(spec, bundle.project_file(member["checkpoint"], root), self.device))
        self.upscaler, self.codec = None, None
        sr = loaded["superres"]
        if sr is not None:
            from tinyactions.superres import upscale

            job = upscale.UpscaleJob.of(sr, str(bundle.project_file(sr["generator"], root)), sr_batch)
            self.upscaler, self.codec = job.build(device), sr["storage"]

    def canary_differences(self) -> list[tuple[int, float]]:
        """(member position, largest difference) between each member's scores of the canary clips now and
        at its dump, for the members whose dump recorded them (``tinyactions.score.canary``)."""
        from tinyactions.score.dump import canary_scores

        out = []
        for transform, positions, models in self.groups.values():
            for position, now in zip(positions, canary_scores(models, transform, self.precision, self.device)):
                recorded = self.bundle["members"][position].get("canary")
                if recorded is not None:
                    out.append((position, float(np.max(np.abs(now - np.asarray(recorded, np.float32))))))
        return sorted(out)

    def describe(self) -> str:
        sr = f"; super-resolution {self.upscaler.precision} on {self.device}" if self.upscaler else ""
        text = f"{len(self.bundle['members'])} members, scoring {self.precision} on {self.device}{sr}"
        made = self.bundle["scoring"].get("made_with")
        if made and made != numeric.record(self.precision, self.device):
            text += (
                f" (the pipeline scored them {made['precision']} on {made['device']}: scores agree with its "
                f"within rounding, not to the bit)"
            )
        return text

    def too_large(self, frames: np.ndarray) -> str:
        """Why a decoded clip cannot be scored here (its super-resolved frames would exceed the decode cap),
        or ''."""
        if self.upscaler is None or self.upscaler.output_pixels(*frames.shape[:3]) <= MAX_PIXELS:
            return ""
        return (
            f"{len(frames)} frames of {frames.shape[2]}x{frames.shape[1]} px: super-resolved they would exceed "
            f"the decode cap of {MAX_PIXELS:,} pixels"
        )

    def score(self, clips: list[np.ndarray], names: list[str]) -> list[np.ndarray]:
        """Each member's (clips, 26) scores of decoded low-res clips, in bundle order. Clips are
        super-resolved at most ``superres.CHUNK`` and one decode cap of output pixels at a time, and kept
        only as the members' inputs (SR clips are large)."""
        from tinyactions.score.dump import clip_item, score_batch
        from tinyactions.superres.upscale import CHUNK

        packed: dict[tuple, list] = {key: [] for key in self.groups}

        def prepare(kind: str, frames: list[np.ndarray], start: int) -> None:
            for key, (transform, _, _) in self.groups.items():
                if key[0] == kind:
                    packed[key] += [
                        transform(clip_item(names[start + i], names[start + i], frames=f)) for i, f in enumerate(frames)
                    ]

        prepare("lr", clips, 0)
        if any(key[0] == "sr" for key in self.groups):
            start = 0
            while start < len(clips):  # at most CHUNK clips, and at most one decode cap of upscaled pixels
                end, pixels = start + 1, self.upscaler.output_pixels(*clips[start].shape[:3])
                while end < min(start + CHUNK, len(clips)):
                    pixels += self.upscaler.output_pixels(*clips[end].shape[:3])
                    if pixels > MAX_PIXELS:
                        break
                    end += 1
                upscaled = self.upscaler.upscale(clips[start:end])  # a clip's output never depends on the others
                prepare("sr", [as_stored(f, self.codec) for f in upscaled], start)
                start = end
        out: list[np.ndarray] = [np.empty(0)] * len(self.bundle["members"])
        for key, (_, positions, models) in self.groups.items():
            for position, scores in zip(positions, score_batch(models, packed[key], self.precision, self.device)):
                out[position] = scores
        return out


def as_stored(frames: np.ndarray, codec: str) -> np.ndarray:
    """The frames as the superres stage stores them: written with ``codec`` and decoded again."""
    with tempfile.TemporaryDirectory(prefix="tinyactions-sr-") as folder:
        path = Path(folder) / f"clip{CODECS[codec][1]}"
        write_video(path, frames, codec=codec)
        return read_video(path, limit=None)  # this process's own clip: its size is already held


# Memory bounds of predict (a video itself decodes to at most video.MAX_PIXELS x 3 bytes): clips decoded
# ahead of scoring hold at most READ_AHEAD_BYTES of frames (and at least one clip), and a batch is closed
# early when its clips' frames pass BATCH_BYTES. TinyVIRAT-v2 clips (at most 128 x 128 px, a few seconds)
# fill a batch of 32 with about 0.2 GB, so only far larger videos close one early; such a batch differs
# from the dump's, and its scores agree with the pipeline's within float rounding only.
READ_AHEAD_BYTES = 2**30
BATCH_BYTES = 2**31


def decoded(
    clips: list[Clip], refuse: Callable[[np.ndarray], str] | None = None, ahead_bytes: int = READ_AHEAD_BYTES
) -> Iterator[tuple[Clip, np.ndarray | None, str]]:
    """(clip, frames or None, problem) in order, decoded on a thread that stays at most ``ahead_bytes``
    of frames ahead. Any failure to decode is the clip's problem, never the run's, and so is a clip that
    ``refuse`` names a reason for."""
    import queue
    import threading

    def decode(clip: Clip) -> tuple[np.ndarray | None, str]:
        try:
            frames = read_video(clip.video)
            problem = refuse(frames) if refuse else ""
            return (None, problem) if problem else (frames, "")
        except Exception as e:  # noqa: BLE001 - a broken file of any kind is that video's row
            return None, str(e).replace(f"{clip.video}: ", "") or type(e).__name__

    ready: queue.Queue = queue.Queue()
    room = threading.Condition()
    held = [0]  # bytes decoded and not yet taken
    stop = threading.Event()

    def produce() -> None:
        try:
            for clip in clips:
                with room:
                    room.wait_for(lambda: held[0] < ahead_bytes or stop.is_set())
                if stop.is_set():
                    return
                frames, problem = decode(clip)
                with room:
                    held[0] += frames.nbytes if frames is not None else 0
                ready.put((clip, frames, problem))
        except BaseException as e:  # noqa: BLE001 - raised where the clips are taken
            ready.put(e)

    worker = threading.Thread(target=produce, name="decode", daemon=True)
    worker.start()
    try:
        for _ in clips:
            item = ready.get()
            if isinstance(item, BaseException):
                raise item
            clip, frames, problem = item
            with room:
                held[0] -= frames.nbytes if frames is not None else 0
                room.notify()
            yield clip, frames, problem
    finally:
        stop.set()
        with room:
            room.notify()
        worker.join()


def batches(
    clips: list[Clip], chunk: int, refuse: Callable[[np.ndarray], str] | None = None
) -> Iterator[list[tuple[Clip, np.ndarray | None, str]]]:
    """Consecutive clips holding ``chunk`` readable ones (the last batch: what remains), as the dump
    stage batches a split's readable videos, or fewer once their frames pass ``BATCH_BYTES``."""
    batch, readable, size = [], 0, 0
    for item in decoded(clips, refuse):
        batch.append(item)
        readable += item[1] is not None
        size += item[1].nbytes if item[1] is not None else 0
        if readable == chunk or size >= BATCH_BYTES:
            if readable < chunk:
                log.warning("a batch closed at %d clips: their frames fill %.1f GB", readable, size / 2**30)
            yield batch
            batch, readable, size = [], 0, 0
    if batch:
        yield batch


def predict_batch(ensemble: Ensemble, batch: list[tuple[Clip, np.ndarray | None, str]]):
    """The prediction rows of one batch. A batch that fails after decoding (a clip the network cannot
    take, memory) is scored again clip by clip: only the clips that fail alone lose their row's scores."""
    problems = [problem for _, _, problem in batch]
    readable = [i for i, (_, frames, _) in enumerate(batch) if frames is not None]
    members = [np.full((len(batch), len(CLASSES)), np.nan, np.float32) for _ in ensemble.bundle["members"]]

    def score(rows: list[int]) -> None:
        scored = ensemble.score([batch[i][1] for i in rows], [batch[i][0].video for i in rows])
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
    scores, predicted = bundle.decide(ensemble.bundle, members)
    return bundle.prediction_table(
        [c.id for c, _, _ in batch],
        [as_written(c.video) for c, _, _ in batch],
        [as_written(p) for p in problems],
        scores,
        predicted,
    )


class OutputBusy(RuntimeError):
    """Another predict is writing the same ``--out``."""


# Rows are text in UTF-8; a video's name that is not UTF-8 (a file named on another system) keeps its own
# bytes, so that the CSV names the very file (bundle.read_predictions reads it back the same way).
CSV_ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}


class PartialOutput:
    """``<out>.partial`` with ``<out>.partial.json``: the rows of finished batches, the bytes they fill and
    what they were computed from. A run of the same bundle, videos and batch size resumes after them.
    ``<out>.lock`` (held while a run writes) keeps a second run on the same ``--out`` away."""

    def __init__(self, out: Path, fingerprint: dict):
        self.out, self.fingerprint = out, fingerprint
        self.rows_file = out.with_name(out.name + ".partial")
        self.state_file = out.with_name(out.name + ".partial.json")
        self.lock_file = out.with_name(out.name + ".lock")

    @contextlib.contextmanager
    def locked(self):
        """Hold ``<out>.lock`` or fail at once: two runs appending to one partial file would interleave."""
        import fcntl

        self.out.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise OutputBusy(f"--out: another predict is writing {self.out} (it holds {self.lock_file})") from None
            if _same_file(fd, self.lock_file):  # not a file a finishing run unlinked meanwhile
                break
            os.close(fd)
        try:
            yield
        finally:
            self.lock_file.unlink(missing_ok=True)
            os.close(fd)

    def resume(self, header: str) -> int:
        """Rows already predicted (0: a fresh start, the header written)."""
        if self.rows_file.is_file() and self.state_file.is_file():
            state = json.loads(self.state_file.read_text())
            if state["fingerprint"] == self.fingerprint and self.rows_file.stat().st_size >= state["bytes"]:
                os.truncate(self.rows_file, state["bytes"])  # a batch cut off mid-write is done again
                return state["rows"]
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.rows_file.write_text(header)
        self._save(0)
        return 0

    def append(self, text: str, rows: int) -> None:
        with open(self.rows_file, "a", **CSV_ENCODING) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        self._save(rows)

    def _save(self, rows: int) -> None:
        write_json(
            self.state_file, {"fingerprint": self.fingerprint, "rows": rows, "bytes": self.rows_file.stat().st_size}
        )

    def finish(self) -> None:
        os.replace(self.rows_file, self.out)
        self.state_file.unlink()


def check_canaries(ensemble: Ensemble, accept: bool) -> dict:
    """Rescore the canary clips and compare with the dumps' scores of them. Beyond the tolerance, on the
    device kind and precision the dumps ran with, the code or libraries that score changed since the bundle
    was made: a BundleError naming the member, the difference and the changed libraries, unless ``accept``
    (the returned record says so). Elsewhere the difference is only logged (rounding differs there)."""
    loaded = ensemble.bundle
    tolerance = canary.TOLERANCE[ensemble.precision]
    comparable = loaded["scoring"]["made_with"] == numeric.record(ensemble.precision, ensemble.device)
    differences = ensemble.canary_differences()
    worst = max(differences, key=lambda d: d[1], default=None)
    recorded = loaded["scoring"].get("versions")
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
        member = loaded["members"][worst[0]]
        message = (
            f"bundle: members.{worst[0]} ({member['run']}@{member['epoch']}) scores the canary clips "
            f"{worst[1]:.3g} away from its dump (tolerance {tolerance:g} at {ensemble.precision}); "
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


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def predict(
    loaded: dict,
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
            "bundle": hashlib.sha256(json.dumps(loaded, sort_keys=True).encode()).hexdigest(),
            "videos": hashlib.sha256(listed).hexdigest(),
            "chunk": chunk,
            "device": device,
        },
    )
    with state.locked():
        return _predict(loaded, clips, state, chunk, sr_batch, device, root, progress, accept_changed_scores)


def _predict(
    loaded: dict,
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
    ensemble = Ensemble(loaded, device, sr_batch, root)  # checks the files first
    log.info("%s", ensemble.describe())
    canaries = check_canaries(ensemble, accept_changed_scores)
    done = state.resume(",".join(bundle.PREDICTION_COLUMNS) + "\n")
    if done:
        log.info("resuming %s: %d of %d videos predicted already", out, done, len(clips))
    tick = progress("predict", len(clips), done) if progress else None
    started, predicted = time.perf_counter(), done
    for batch in batches(clips[done:], chunk, ensemble.too_large):
        rows = predict_batch(ensemble, batch)
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


def choose(loaded: dict, lr_only: bool) -> dict:
    """The full bundle, or its low-res variant with what dropping the SR members costs on val, logged."""
    if not lr_only:
        return loaded
    if loaded["superres"] is None:
        log.info("--lr-only: every member reads low-res video; nothing to drop")
        return loaded
    low = bundle.lr_only(loaded)
    full_f1, low_f1 = loaded["val_f1"], low["val_f1"]
    log.info(
        "--lr-only: %d of %d members (no super-resolution); val F1 %.4f cross-validated (in-sample %.4f) "
        "against %.4f (%.4f) with every member",
        len(low["members"]),
        len(loaded["members"]),
        low_f1["cv"],
        low_f1["in_sample"],
        full_f1["cv"],
        full_f1["in_sample"],
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
    s = ExecutionReads.load(REPO.params)
    path = Path(args.bundle)
    if not path.is_file():
        raise FileNotFoundError(f"--bundle: {path} does not exist (the evaluate stage writes {REPO.bundle})")
    loaded = choose(bundle.load(path), args.lr_only)
    clips = clips_of(args.inputs, args.video_root)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    # the batch the members' dumps scored with (scores depend on it within rounding), else this project's
    chunk = loaded["scoring"].get("batch") or s.execution.score_chunk
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
