"""RealBasicVSR inference: windowed and batched upscaling of clips, on one device or one worker per device
(the generator: ``tinyactions.superres.network``; the dataset's job: ``tinyactions.superres.dataset``;
fitting and quality: ``tinyactions.superres.fit``).

Inference: every clip is resized (bicubic) to ``in_size`` x ``in_size`` (= out_size / 4; non-square clips
are stretched to a square, as the recognisers resize to squares anyway) and upscaled x4. Long clips
are cut into temporal windows of ``window`` frames that overlap by ``overlap`` frames on each side;
only each window's centre is kept, so propagation still sees ``overlap`` frames of context in both
directions (see ``tests/superres/test_upscale.py`` for the measured difference to whole-clip processing).
Windows of equal length from different clips are batched into one forward pass, and the network runs
in the channels_last memory layout (same output within rounding, faster convolutions).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from tinyactions.core import precision as numeric
from tinyactions.superres.geometry import SCALE, plan_windows
from tinyactions.superres.network import GeneratorSpec, build_generator, load_official

log = logging.getLogger(__name__)
CHUNK = 16  # clips decoded ahead and upscaled together


def resize_frames(frames: np.ndarray, size: int, interpolation=cv2.INTER_CUBIC) -> np.ndarray:
    if frames.shape[1:3] == (size, size):
        return frames
    return np.stack([cv2.resize(f, (size, size), interpolation=interpolation) for f in frames])


def output_settings(out_size: int, window: int, overlap: int, input: str, precision: str, device: torch.device) -> dict:
    """What an SR output depends on besides the input's bytes and the weights (part of its cache key);
    ``precision`` is the resolved one. Keys at their first values are left out, so older caches stay
    valid."""
    return {
        "out_size": out_size,
        "window": window,
        "overlap": overlap,
        **({"input": input} if input != "square" else {}),
        **({"precision": precision} if precision != "fp32" else {}),
        **({"device": device.type} if device.type != "cpu" else {}),
    }


class Upscaler:
    """A resident generator that upscales many clips, batching windows of equal length and size.

    ``input``: ``square`` resizes every clip to ``out_size / 4`` squared first (one size, big batches);
    ``native`` feeds each clip at its own size, as the paper does, and resizes the x4 output to
    ``out_size`` (a 128 px clip keeps its detail instead of being halved to 56 px first)."""

    def __init__(
        self,
        net: torch.nn.Module,
        out_size: int,
        window: int,
        overlap: int,
        batch: int,
        input: str,
        device: str | None = None,
        *,
        precision: str,
    ):
        # size and input come checked: from the settings (superres.size, superres.input) or a bundle's schema
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        # channels_last: oneDNN/cuDNN convolutions run without layout reorders (same output within
        # rounding; measured on 2 CPU cores: 1.17x frames/s of the demo generator)
        self.net = net.to(self.device, memory_format=torch.channels_last).eval()
        self.precision = numeric.resolve(precision, "superres", self.device)
        self.out_size, self.in_size = out_size, out_size // SCALE
        self.window, self.overlap, self.batch, self.input = window, overlap, batch, input

    def settings(self) -> dict:
        """What an output depends on besides the input's bytes and the weights (the cache key)."""
        return output_settings(self.out_size, self.window, self.overlap, self.input, self.precision, self.device)

    def output_pixels(self, frames: int, height: int, width: int) -> int:
        """Pixels the upscaling of a (frames, height, width) clip holds at once: the x4 output (of the
        network's input size), then the output size."""
        side = (self.in_size, self.in_size) if self.input == "square" else (height, width)
        return frames * max(side[0] * SCALE * side[1] * SCALE, self.out_size**2)

    def network_input(self, clip: np.ndarray) -> np.ndarray:
        return resize_frames(clip, self.in_size) if self.input == "square" else clip

    def to_output_size(self, frames: np.ndarray) -> np.ndarray:
        """The x4 output at ``out_size`` squared (area when shrinking, bicubic when enlarging)."""
        shrink = max(frames.shape[1:3]) > self.out_size
        return resize_frames(frames, self.out_size, cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)

    def bicubic(self, clip: np.ndarray) -> np.ndarray:
        """The baseline of the same input: bicubic instead of the network."""
        return resize_frames(self.network_input(clip), self.out_size)

    @torch.no_grad()
    def _forward(self, windows: list[np.ndarray]) -> np.ndarray:
        x = torch.from_numpy(np.stack(windows)).to(self.device)  # (n, t, h, w, 3) uint8
        x = x.permute(0, 1, 4, 2, 3).float().div_(255)
        with numeric.autocast(self.precision, self.device):
            y = self.net(x)
        y = y.float().clamp_(0, 1).mul_(255).round_().to(torch.uint8)
        return y.permute(0, 1, 3, 4, 2).cpu().numpy()

    def upscale(self, clips: list[np.ndarray]) -> list[np.ndarray]:
        """(T, h, w, 3) uint8 RGB clips -> (T, out, out, 3) uint8 RGB clips."""
        inputs = [self.network_input(c) for c in clips]
        outputs = [np.empty((len(c), c.shape[1] * SCALE, c.shape[2] * SCALE, 3), np.uint8) for c in inputs]
        jobs: dict[tuple, list] = {}
        for ci, clip in enumerate(inputs):
            for start, end, keep_from, keep_to in plan_windows(len(clip), self.window, self.overlap):
                jobs.setdefault((end - start, *clip.shape[1:3]), []).append((ci, start, end, keep_from, keep_to))
        for _, items in sorted(jobs.items()):
            for b in range(0, len(items), self.batch):
                chunk = items[b : b + self.batch]
                result = self._forward([inputs[ci][s:e] for ci, s, e, _, _ in chunk])
                for (ci, s, e, kf, kt), frames in zip(chunk, result):
                    outputs[ci][kf:kt] = frames[kf - s : kt - s]
        return [self.to_output_size(o) for o in outputs]


def process(jobs: list[tuple[str, str]], upscaler: "Upscaler", chunk: int, codec: str, progress=None) -> None:
    """Upscale (input path, output path) pairs: chunks of clips go through the network together while
    the next chunk is decoded and the previous one encoded on two threads (torch releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    from tinyactions.data.video import read_video, write_video

    chunks = [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]
    if not chunks:
        return

    def load(part):
        return [(dst, read_video(src)) for src, dst in part]

    with ThreadPoolExecutor(2) as pool:
        ahead, writes = pool.submit(load, chunks[0]), []
        for i in range(len(chunks)):
            loaded = ahead.result()
            ahead = pool.submit(load, chunks[i + 1]) if i + 1 < len(chunks) else None
            results = upscaler.upscale([frames for _, frames in loaded])
            for future in writes:
                future.result()
            writes = [pool.submit(write_video, dst, frames, codec=codec) for (dst, _), frames in zip(loaded, results)]
            if progress:
                progress(len(loaded))
        for future in writes:
            future.result()


@dataclass(frozen=True)
class UpscaleJob:
    """Everything that builds the superres stage's Upscaler, in this process or in a worker (picklable)."""

    generator: GeneratorSpec
    weights: str  # an official-format checkpoint
    out_size: int
    window: int
    overlap: int
    batch: int
    input: str
    precision: str  # as set (auto resolves per device)

    @classmethod
    def of(cls, inference: dict, weights: str, batch: int) -> "UpscaleJob":
        """The job of the settings' ``superres.inference()``, or of what a bundle recorded of them."""
        return cls(
            GeneratorSpec(**inference["spec"]),
            weights,
            inference["size"],
            inference["window"],
            inference["overlap"],
            batch,
            inference["input"],
            inference["precision"],
        )

    def network(self) -> torch.nn.Module:
        net = build_generator(self.generator)
        load_official(net, self.weights, key=self.weights)
        return net

    def build(self, device: str, net: torch.nn.Module | None = None) -> Upscaler:
        return Upscaler(
            net or self.network(),
            self.out_size,
            self.window,
            self.overlap,
            self.batch,
            self.input,
            device,
            precision=self.precision,
        )

    def settings(self, device: str) -> dict:
        device = torch.device(device)
        return output_settings(
            self.out_size,
            self.window,
            self.overlap,
            self.input,
            numeric.resolve(self.precision, "superres", device),
            device,
        )


def devices(cpu_workers: int) -> list[str]:
    """Where super-resolution runs: one worker per visible GPU, else ``cpu_workers`` processes that
    share the cores."""
    if torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return ["cpu"] * cpu_workers


def _worker(job: UpscaleJob, device: str, threads: int, pairs: list[tuple[str, str]], codec: str, messages) -> None:
    """One worker process: its share of the (input, output) pairs. Puts ("done", clips) after each
    chunk, or ("failed", what went wrong) once before exiting with status 1."""
    try:
        torch.set_num_threads(threads)
        process(pairs, job.build(device), CHUNK, codec, lambda count: messages.put(("done", count)))
    except BaseException as e:  # noqa: BLE001 - the parent names it and stops the other workers
        messages.put(("failed", f"{type(e).__name__}: {e}"))
        raise SystemExit(1) from None


def process_parallel(
    pairs: list[tuple[str, str]],
    job: UpscaleJob,
    where: list[str],
    codec: str,
    progress=None,
    net: torch.nn.Module | None = None,
) -> None:
    """``process`` on the devices of ``where``. One device: in this process (a CPU with every core this
    process may use). Several: spawned workers (CUDA cannot be forked) that split the CPU cores and
    take every ``len(where)``-th pair each; the first failure stops them all and is raised with the
    worker's own message. ``net``: the job's network, already loaded (used by the in-process path)."""
    import multiprocessing as mp
    import queue

    cores = len(os.sched_getaffinity(0))
    if len(where) == 1:
        if torch.device(where[0]).type == "cpu":
            torch.set_num_threads(cores)
        process(pairs, job.build(where[0], net), CHUNK, codec, progress)
        return
    context = mp.get_context("spawn")
    messages = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(job, device, max(1, cores // len(where)), pairs[i :: len(where)], codec, messages),
            daemon=True,
        )
        for i, device in enumerate(where)
    ]
    for w in workers:
        w.start()
    try:
        while True:
            try:
                kind, value = messages.get(timeout=0.5)
            except queue.Empty:
                died = [
                    f"{device} (exit {w.exitcode})" for w, device in zip(workers, where) if w.exitcode not in (None, 0)
                ]
                if died:
                    raise RuntimeError(f"super-resolution worker on {died[0]} died") from None
                if not any(w.is_alive() for w in workers):
                    break
                continue
            if kind == "failed":
                raise RuntimeError(f"super-resolution worker failed: {value}")
            if progress:
                progress(value)
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
            w.join()
