"""Videos decoded ahead of their use on a thread, in bounded memory, and grouped into batches as the dump
stage batches a split: what scoring new videos (``tinyactions predict``) reads them through.

Memory bounds (a video itself decodes to at most ``video.MAX_PIXELS`` x 3 bytes): clips decoded ahead hold
at most ``READ_AHEAD_BYTES`` of frames (and at least one clip), and a batch is closed early when its clips'
frames pass ``BATCH_BYTES``. TinyVIRAT-v2 clips (at most 128 x 128 px, a few seconds) fill a batch of 32
with about 0.2 GB, so only far larger videos close one early; such a batch differs from the dump's, and
its scores agree with the pipeline's within float rounding only.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import numpy as np

from tinyactions.data.video import read_video

log = logging.getLogger(__name__)
READ_AHEAD_BYTES = 2**30
BATCH_BYTES = 2**31


class HasVideo(Protocol):
    video: str  # the file to decode


Item = TypeVar("Item", bound=HasVideo)


def decoded(
    items: list[Item], refuse: Callable[[np.ndarray], str] | None = None, ahead_bytes: int = READ_AHEAD_BYTES
) -> Iterator[tuple[Item, np.ndarray | None, str]]:
    """(item, frames or None, problem) in order, decoded on a thread that stays at most ``ahead_bytes``
    of frames ahead. Any failure to decode is the item's problem, never the run's, and so is a clip that
    ``refuse`` names a reason for."""

    def decode(item: Item) -> tuple[np.ndarray | None, str]:
        try:
            frames = read_video(item.video)
            problem = refuse(frames) if refuse else ""
            return (None, problem) if problem else (frames, "")
        except Exception as e:  # noqa: BLE001 - a broken file of any kind is that video's row
            return None, str(e).replace(f"{item.video}: ", "") or type(e).__name__

    ready: queue.Queue = queue.Queue()
    room = threading.Condition()
    held = [0]  # bytes decoded and not yet taken
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                with room:
                    room.wait_for(lambda: held[0] < ahead_bytes or stop.is_set())
                if stop.is_set():
                    return
                frames, problem = decode(item)
                with room:
                    held[0] += frames.nbytes if frames is not None else 0
                ready.put((item, frames, problem))
        except BaseException as e:  # noqa: BLE001 - raised where the items are taken
            ready.put(e)

    worker = threading.Thread(target=produce, name="decode", daemon=True)
    worker.start()
    try:
        for _ in items:
            got = ready.get()
            if isinstance(got, BaseException):
                raise got
            item, frames, problem = got
            with room:
                held[0] -= frames.nbytes if frames is not None else 0
                room.notify()
            yield item, frames, problem
    finally:
        stop.set()
        with room:
            room.notify()
        worker.join()


def batches(
    items: list[Item], chunk: int, refuse: Callable[[np.ndarray], str] | None = None
) -> Iterator[list[tuple[Item, np.ndarray | None, str]]]:
    """Consecutive items holding ``chunk`` readable ones (the last batch: what remains), as the dump
    stage batches a split's readable videos, or fewer once their frames pass ``BATCH_BYTES``."""
    batch, readable, size = [], 0, 0
    for got in decoded(items, refuse):
        batch.append(got)
        readable += got[1] is not None
        size += got[1].nbytes if got[1] is not None else 0
        if readable == chunk or size >= BATCH_BYTES:
            if readable < chunk:
                log.warning("a batch closed at %d clips: their frames fill %.1f GB", readable, size / 2**30)
            yield batch
            batch, readable, size = [], 0, 0
    if batch:
        yield batch
