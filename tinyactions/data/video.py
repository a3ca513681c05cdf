"""Video I/O and temporal sampling.

Decoding goes through decord; OpenCV is the fallback for files decord cannot open or mis-decodes
(dmlc/decord issue 336: some tiny clips come back with 4 channels). Frames are uint8 RGB arrays of
shape (T, H, W, 3). Sampling returns frame indices so the same rule serves decoded arrays and
mmaction2 pipelines alike.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tinyactions.core.filenames import is_text
from tinyactions.core.files import atomic_path


class VideoDecodeError(RuntimeError):
    """A video that no decoder could read, or too large to decode; the message names the file."""


# The most one video may decode to, in pixels (frames x width x height; 3 bytes each as RGB: 768 MiB).
# TinyVIRAT-v2's largest size, 128 x 128 px, fits 16,384 frames (9 min at 30 fps; its clips last about
# 3 s), and a clip super-resolved to 224 x 224 px fits 5,349 frames. A larger file is refused as
# undecodable before its frames are held: one minute of 1080p would be 11 GB.
MAX_PIXELS = 2**28
CHUNK_FRAMES = 64  # frames decoded at a time when only counting them


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    width: int
    height: int


@contextlib.contextmanager
def c_path(path: str | os.PathLike):
    """A name of ``path`` that C libraries (decord, OpenCV) can take. A name that is not valid UTF-8
    (a file named on another system) crashes OpenCV and is refused by decord, so such a path is reached
    through an ASCII symlink in a private temporary folder: to its file, or to its folder when only the
    folder's name is the problem (a file about to be written)."""
    path = Path(path)
    text = str(path)
    if is_text(text):
        yield text
        return
    try:
        target = os.fsencode(os.path.abspath(path if not is_text(path.name) else path.parent))
    except UnicodeEncodeError:
        raise VideoDecodeError(f"{text!r}: the name is not a file name this system can hold") from None
    with tempfile.TemporaryDirectory(prefix="tinyactions-name-") as folder:
        alias = os.path.join(folder, "alias")
        os.symlink(target, alias)
        yield alias if not is_text(path.name) else os.path.join(alias, path.name)


def _check_size(path: Path, frames: int, height: int, width: int, limit: int | None) -> None:
    if limit is not None and frames * height * width > limit:
        raise VideoDecodeError(
            f"{path}: {frames} frames of {width}x{height} px exceed the decode cap of "
            f"{limit:,} pixels (frames x width x height)"
        )


def _decord_chunks(path: Path, limit: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """(frames in the file, the next ``CHUNK_FRAMES`` frames) as decord decodes them. Raises when decord
    cannot open the file, returns a frame that is not RGB (dmlc/decord issue 336), or the file exceeds
    ``limit``."""
    import decord

    with c_path(path) as name:
        reader = decord.VideoReader(name, num_threads=1)
        n = len(reader)
        if n == 0:
            raise ValueError("no frames")
        height, width = reader[0].shape[:2]
        _check_size(path, n, height, width, limit)  # before decoding: the container's own count
        for start in range(0, n, CHUNK_FRAMES):
            frames = reader.get_batch(list(range(start, min(start + CHUNK_FRAMES, n)))).asnumpy()
            if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[1:3] != (height, width):
                raise ValueError(f"decord returned shape {frames.shape}")
            yield n, frames


def _opencv_frames(path: Path, limit: int | None) -> Iterator[np.ndarray]:
    """RGB frames one at a time through OpenCV; stops with an error once they exceed ``limit``."""
    with c_path(path) as name:
        cap = cv2.VideoCapture(name)
        try:
            count = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    return
                if frame.ndim == 2:
                    frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
                elif frame.shape[2] == 4:
                    frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
                else:
                    frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                count += 1
                _check_size(path, count, frame.shape[0], frame.shape[1], limit)
                yield frame
        finally:
            cap.release()


def _readable(path: Path) -> None:
    if not path.exists():
        raise VideoDecodeError(f"{path}: file not found")
    if not path.is_file():
        raise VideoDecodeError(f"{path}: not a regular file ({'a folder' if path.is_dir() else 'a special file'})")


def _decoded(path: Path, limit: int | None, keep: bool) -> tuple[np.ndarray | None, VideoInfo]:
    """Decode the whole file: decord, else OpenCV. ``keep``: return the frames (decord's are written
    into one array sized from the container's count: the cap is the peak; OpenCV's fallback stacks its
    frames at the end), else only count them (memory bounded by a chunk)."""
    _readable(path)
    frames: np.ndarray | None = None
    count, shape = 0, (0, 0)
    try:
        for n, chunk in _decord_chunks(path, limit):
            if keep and frames is None:
                frames = np.empty((n, *chunk.shape[1:]), np.uint8)
            if keep:
                frames[count : count + len(chunk)] = chunk
            count, shape = count + len(chunk), chunk.shape[1:3]
    except VideoDecodeError:
        raise
    except Exception as decord_error:  # decord raises its own DECORDError and plain RuntimeErrors
        frames, count, kept = None, 0, []
        for frame in _opencv_frames(path, limit):
            count, shape = count + 1, frame.shape[:2]
            if keep:
                kept.append(frame)
        if count == 0:
            raise VideoDecodeError(f"{path}: no decodable frames (decord: {decord_error})") from None
        frames = np.stack(kept) if keep else None
    return frames, VideoInfo(frames=count, width=int(shape[1]), height=int(shape[0]))


def read_video(path: str | os.PathLike, limit: int | None = MAX_PIXELS) -> np.ndarray:
    """All frames of a video as (T, H, W, 3) uint8 RGB. Raises VideoDecodeError for missing, unreadable
    or frameless files and for files over ``limit`` pixels (frames x width x height; None: no cap, for
    a clip this process has just written)."""
    frames, _ = _decoded(Path(path), limit, keep=True)
    return frames


def read_sampled(path: str | os.PathLike, sampler) -> np.ndarray:
    """Decode only the frames a sampler picks: ``sampler(num_frames) -> indices``. Returns
    (len(indices), H, W, 3) uint8 RGB, through decord with the OpenCV fallback of :func:`read_video`."""
    path = Path(path)
    try:
        import decord

        _readable(path)
        with c_path(path) as name:
            reader = decord.VideoReader(name, num_threads=1)
            n = len(reader)
            if n == 0:
                raise ValueError("no frames")
            indices = np.asarray(sampler(n))
            unique, inverse = np.unique(indices, return_inverse=True)
            frames = reader.get_batch(unique.tolist()).asnumpy()
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"decord returned shape {frames.shape}")
        return frames[inverse]
    except VideoDecodeError:
        raise
    except Exception:
        frames = read_video(path)
        return frames[np.asarray(sampler(len(frames)))]


def probe(path: str | os.PathLike, limit: int | None = MAX_PIXELS) -> VideoInfo:
    """Frame count and size of what the file really holds: every frame decoded (a chunk at a time,
    never the whole file in memory), not read from its header."""
    return _decoded(Path(path), limit, keep=False)[1]


# codec -> (fourcc, container): mp4v is lossy MPEG-4 part 2 (TinyVIRAT's own videos are mp4); ffv1 is
# lossless, in a Matroska container (OpenCV's mp4 muxer refuses it), kept under the caller's file name:
# decoders probe the content, not the name.
CODECS = {"mp4v": ("mp4v", ".mp4"), "ffv1": ("FFV1", ".mkv")}


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 30.0, codec: str = "mp4v") -> None:
    """Write (T, H, W, 3) uint8 RGB atomically: a crash never leaves a half-written file under the final
    name."""
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"{path}: expected non-empty (T, H, W, 3) uint8 frames, got {frames.shape} {frames.dtype}")
    if codec not in CODECS:
        raise ValueError(f"{path}: codec must be one of {sorted(CODECS)}, got {codec!r}")
    fourcc, container = CODECS[codec]
    with atomic_path(path, suffix=container) as tmp:
        h, w = frames.shape[1:3]
        with c_path(tmp) as name:
            writer = cv2.VideoWriter(name, cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
            if not writer.isOpened():
                raise VideoDecodeError(f"{path}: OpenCV cannot open an mp4 writer for {w}x{h}")
            for frame in frames:
                writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            writer.release()


def as_stored(frames: np.ndarray, codec: str) -> np.ndarray:
    """``frames`` as a video stored with ``codec`` reads back: written and decoded again (what the superres
    stage's videos hold, so what training, scoring and predict see of super-resolved frames)."""
    with tempfile.TemporaryDirectory(prefix="tinyactions-stored-") as folder:
        path = Path(folder) / f"clip{CODECS[codec][1]}"
        write_video(path, frames, codec=codec)
        return read_video(path, limit=None)  # this process's own clip: its size is already held


def uniform_indices(num_frames: int, segments: int, train: bool, rng: np.random.Generator | None = None) -> np.ndarray:
    """Uniform sampling: split the clip into ``segments`` equal spans and take one frame of each, at
    random in training (the paper's rule) and the middle one in testing (ours: the paper samples at random
    in testing too; the middle keeps every score table reproducible). Clips shorter than ``segments``
    repeat frames (each span then covers less than a frame)."""
    if num_frames <= 0:
        raise ValueError("num_frames must be positive")
    edges = np.linspace(0.0, num_frames, segments + 1)
    starts, widths = edges[:-1], np.diff(edges)
    if train:
        rng = rng if rng is not None else np.random.default_rng()
        positions = starts + rng.random(segments) * widths
    else:
        positions = starts + widths / 2
    return np.minimum(positions.astype(np.int64), num_frames - 1)


def uniform_view_indices(num_frames: int, segments: int, views: int) -> np.ndarray:
    """Deterministic test-time uniform sampling with several temporal views: view ``v`` of ``views``
    takes the frame at fraction (v + 0.5) / views of every segment (views = 1: the middles)."""
    if num_frames <= 0:
        raise ValueError("num_frames must be positive")
    edges = np.linspace(0.0, num_frames, segments + 1)
    starts, widths = edges[:-1], np.diff(edges)
    fractions = (np.arange(views) + 0.5) / views
    positions = starts[None, :] + widths[None, :] * fractions[:, None]
    return np.minimum(positions.astype(np.int64), num_frames - 1).reshape(-1)


def dense_indices(
    num_frames: int, clip_len: int, interval: int, train: bool, rng: np.random.Generator | None = None
) -> np.ndarray:
    """One contiguous window of ``clip_len`` frames ``interval`` apart (the "without uniform
    sampling" baseline): random start in training, centred in testing; short clips loop."""
    if num_frames <= 0:
        raise ValueError("num_frames must be positive")
    span = (clip_len - 1) * interval + 1
    slack = max(num_frames - span, 0)
    if train:
        rng = rng if rng is not None else np.random.default_rng()
        start = int(rng.integers(0, slack + 1))
    else:
        start = slack // 2
    return (start + np.arange(clip_len) * interval) % num_frames


def hflip(frames: np.ndarray) -> np.ndarray:
    """Horizontal flip of (T, H, W, C) frames (the balance copies are flipped at load time)."""
    return np.ascontiguousarray(frames[:, :, ::-1])
