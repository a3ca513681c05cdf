"""mmengine hooks of the training stage.

- ``ExactResumeHook``: tells the dataset which epoch it serves (clip sampling derives from it) and
  re-seeds every RNG from (seed, epoch) at the start of each epoch, so a run resumed after a kill ends
  with the same weights as one that never stopped (mmengine restores model, optimizer, schedulers and
  sampler, not RNG streams).
- ``EpochLogHook``: per-epoch train loss, learning rate and validation metrics logged with dvclive
  (step = epoch), from rank 0 only.
"""
from __future__ import annotations

import random

import numpy as np
import torch
from mmaction.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import Hook


def _dataset(loader):
    dataset = loader.dataset
    while hasattr(dataset, "dataset"):  # unwrap mmengine dataset wrappers
        dataset = dataset.dataset
    return dataset


@HOOKS.register_module()
class ExactResumeHook(Hook):
    priority = "VERY_HIGH"

    def before_train_epoch(self, runner) -> None:
        _dataset(runner.train_dataloader).epoch = runner.epoch
        # Every random stream of an epoch (dropout, drop path, loader worker seeds) starts from
        # (seed, epoch): validation between epochs consumes global RNG, so restoring a saved state
        # at resume would not be enough.
        seed = int(np.random.SeedSequence([runner.seed or 0, runner.epoch]).generate_state(1)[0])
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)


@HOOKS.register_module()
class EpochLogHook(Hook):
    priority = "LOW"

    def __init__(self, live_dir: str):
        self.live_dir = live_dir
        self._live = None
        self._losses: list[float] = []

    def _get_live(self, runner):
        if self._live is None:
            from dvclive import Live
            self._live = Live(self.live_dir, dvcyaml=False, save_dvc_exp=False, resume=runner.epoch > 0)
        return self._live

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if outputs and "loss" in outputs:
            self._losses.append(float(outputs["loss"].detach()))

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not is_main_process():
            self._losses.clear()
            return
        live = self._get_live(runner)
        live.step = runner.epoch  # epochs are 1-based once an epoch has finished
        if self._losses:
            live.log_metric("train/loss", float(np.mean(self._losses)))
        live.log_metric("train/lr", float(runner.optim_wrapper.get_lr()["lr"][0]))
        for key, value in (metrics or {}).items():
            live.log_metric(key, float(value))
        live.make_summary()
        self._losses.clear()
