"""Checkpoints scoring decoded clips as their dumps scored them: what applying an ensemble to new videos
(``tinyactions predict``) runs. Members on low-res input score a clip as it is; members on super-resolved
input score it after the generator has upscaled it and the frames have gone through the storage codec the
pipeline stored SR video with (what those members were trained and scored on)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tinyactions.core import precision as numeric
from tinyactions.data.video import MAX_PIXELS, as_stored
from tinyactions.score.dump import canary_scores, clip_item, load_model, score_batch, test_transform
from tinyactions.superres.upscale import CHUNK, Upscaler
from tinyactions.train.spec import RunSpec


class Scorer:
    """Members loaded on one device, grouped by the clip they read (input kind and test pipeline): each
    group's clips are prepared once and scored by all of its members. ``precision`` is the dumps' setting
    (fp32 | bf16 | fp16 | auto), resolved for ``device``; ``upscaler`` and ``codec`` make the SR members'
    frames (None when every member reads low-res video)."""

    def __init__(
        self,
        members: list[tuple[RunSpec, str | os.PathLike]],
        views: int,
        precision: str,
        device: str,
        upscaler: Upscaler | None = None,
        codec: str | None = None,
    ):
        import torch

        self.device = torch.device(device)
        self.precision = numeric.resolve(precision, "scores", self.device)
        self.members = len(members)
        self.groups: dict[tuple, tuple] = {}  # (input, pipeline) -> (transform, member positions, models)
        for position, (spec, checkpoint) in enumerate(members):
            key = (spec.input, spec.sampling, spec.segments, spec.dense_interval, spec.input_size)
            if key not in self.groups:
                self.groups[key] = (test_transform(spec, views), [], [])
            self.groups[key][1].append(position)
            self.groups[key][2].append(load_model(spec, Path(checkpoint), self.device))
        if any(key[0] == "sr" for key in self.groups) and upscaler is None:
            raise ValueError("members read super-resolved video, but no upscaler was given")
        self.upscaler, self.codec = upscaler, codec

    def canary_scores(self) -> list[np.ndarray]:
        """Each member's scores of the canary clips now, in member order (``tinyactions.score.canary``)."""
        out: list[np.ndarray] = [np.empty(0)] * self.members
        for transform, positions, models in self.groups.values():
            for position, now in zip(positions, canary_scores(models, transform, self.precision, self.device)):
                out[position] = now
        return out

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
        """Each member's (clips, 26) scores of decoded low-res clips, in member order. Clips are
        super-resolved at most ``upscale.CHUNK`` and one decode cap of output pixels at a time, and kept
        only as the members' inputs (SR clips are large)."""
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
        out: list[np.ndarray] = [np.empty(0)] * self.members
        for key, (_, positions, models) in self.groups.items():
            for position, scores in zip(positions, score_batch(models, packed[key], self.precision, self.device)):
                out[position] = scores
        return out
