"""The prepared index as an mmaction2 dataset, and the clip-loading transform.

``TinyVideoDataset`` reads a split's parquet index (one row per sample: balance copies are rows with
``flip``) and serves dicts that mmaction2's transforms understand. ``LoadTinyClip`` decodes only the
sampled frames (uniform segments or one dense window, see :mod:`tinyactions.data.video`) and applies the
row's flip. Training randomness is drawn from (seed, epoch, sample_id), never from global state, so a
resumed run samples exactly what an uninterrupted one would.
"""

from __future__ import annotations

import os
import zlib

import numpy as np
import pandas as pd
from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS, TRANSFORMS
from mmcv.transforms import BaseTransform

from tinyactions.challenge.annotations import LABEL_COLUMNS, SCORE_COLUMNS
from tinyactions.data.video import dense_indices, hflip, read_sampled, uniform_indices, uniform_view_indices

SAMPLING_MODES = ("uniform", "dense")


@DATASETS.register_module()
class TinyVideoDataset(BaseActionDataset):
    """Rows of a prepared index (``ann_file``, parquet) whose videos live under ``video_root``.

    ``balance_copies = False`` leaves out the flipped balance rows (the "without balance" ablation).
    ``teacher_file`` (parquet with ``sample_id`` and the 26 ``s_<class>`` score columns) attaches the teacher's scores
    to each sample by id for distillation; a sample without teacher scores is an error."""

    def __init__(
        self,
        ann_file: str,
        pipeline: list,
        video_root: str,
        test_mode: bool = False,
        teacher_file: str | None = None,
        balance_copies: bool = True,
        **kwargs,
    ):
        self.video_root = video_root
        self.balance_copies = balance_copies
        self.teacher_file = teacher_file
        self.epoch = 0
        super().__init__(
            ann_file, pipeline=pipeline, test_mode=test_mode, multi_class=True, num_classes=len(LABEL_COLUMNS), **kwargs
        )

    def load_data_list(self) -> list[dict]:
        index = pd.read_parquet(self.ann_file)
        keep = index["readable"] & (self.balance_copies | ~index["flip"])
        index = index[keep].reset_index(drop=True)
        labels = index[list(LABEL_COLUMNS)].to_numpy(np.float32)
        teacher = None
        if self.teacher_file:
            table = pd.read_parquet(self.teacher_file).set_index("sample_id")
            missing = sorted(set(index["sample_id"]) - set(table.index))
            if missing:
                raise KeyError(f"{self.teacher_file}: no teacher scores for {len(missing)} samples, e.g. {missing[:5]}")
            teacher = table.loc[index["sample_id"], list(SCORE_COLUMNS)].to_numpy(np.float32)
        data = []
        for i, row in enumerate(index.itertuples(index=False)):
            item = {
                "filename": os.path.join(self.video_root, row.path),
                "label": labels[i],
                "flip": bool(row.flip),
                "sample_id": row.sample_id,
                "total_frames": int(row.frames),
            }
            if teacher is not None:
                item["teacher_scores"] = teacher[i]
            data.append(item)
        return data

    def get_data_info(self, idx: int) -> dict:
        # BaseActionDataset's multi_class path would turn our 26-hot vector into indexes: skip it.
        info = super(BaseActionDataset, self).get_data_info(idx)
        info.update(modality=self.modality, start_index=self.start_index, epoch=self.epoch)
        return info


@TRANSFORMS.register_module()
class LoadTinyClip(BaseTransform):
    """Decode the sampled frames of ``results['filename']`` into ``results['imgs']`` (or take them from
    ``results['frames']``, a clip decoded already: the same frames, as the predictor scores them).

    uniform: ``segments`` spans, one frame each (random in training, ``views`` evenly placed
    deterministic frames per span in testing); dense: one window of ``segments`` frames ``interval``
    apart (random start in training, centred in testing)."""

    def __init__(
        self,
        mode: str = "uniform",
        segments: int = 16,
        interval: int = 2,
        views: int = 1,
        test_mode: bool = False,
        seed: int = 0,
    ):
        if mode not in SAMPLING_MODES:
            raise ValueError(f"sampling mode must be one of {SAMPLING_MODES}, got {mode!r}")
        if mode == "dense" and views != 1:
            raise ValueError("dense sampling takes one view")
        self.mode, self.segments, self.interval, self.views = mode, segments, interval, views
        self.test_mode, self.seed = test_mode, seed

    def _rng(self, results: dict) -> np.random.Generator:
        key = zlib.crc32(str(results.get("sample_id", results["filename"])).encode())
        return np.random.default_rng([self.seed, int(results.get("epoch", 0)), key])

    def sampler(self, results: dict):
        if self.mode == "uniform":
            if self.test_mode:
                return lambda n: uniform_view_indices(n, self.segments, self.views)
            rng = self._rng(results)
            return lambda n: uniform_indices(n, self.segments, train=True, rng=rng)
        rng = None if self.test_mode else self._rng(results)
        return lambda n: dense_indices(n, self.segments, self.interval, train=not self.test_mode, rng=rng)

    def transform(self, results: dict) -> dict:
        if results.get("frames") is not None:
            clip = results.pop("frames")
            frames = clip[np.asarray(self.sampler(results)(len(clip)))]
        else:
            frames = read_sampled(results["filename"], self.sampler(results))
        if results.get("flip"):
            frames = hflip(frames)
        results["imgs"] = list(frames)
        results["original_shape"] = results["img_shape"] = frames.shape[1:3]
        results["clip_len"] = self.segments
        results["num_clips"] = self.views if self.test_mode else 1
        return results
