"""mmengine hooks of the training stage.

- ``ExactResumeHook``: tells the dataset which epoch it serves (clip sampling derives from it) and
  re-seeds every RNG from (seed, epoch) at the start of each epoch, so a run resumed after a kill ends
  with the same weights as one that never stopped (mmengine restores model, optimizer, schedulers and
  sampler, not RNG streams).
- ``EpochLogHook``: per-epoch train loss, learning rate and validation metrics logged with dvclive
  (step = epoch), from rank 0 only; the log travels in the checkpoints, so a resumed run writes the
  same files as an uninterrupted one.
- ``ResumeStateOnlyInLatestHook``: optimizer and scheduler state only in the latest epoch's checkpoint.
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
    """The per-epoch log travels inside each checkpoint, so a run killed at any point and resumed
    writes the same files as one that never stopped: checkpoint N carries rows 1..N-1 and epoch N's
    train loss and learning rate; epoch N's validation (which mmengine runs after saving, so a kill
    can lose it) is run again at resume. The dvclive folder is rewritten from the rows each epoch,
    never appended to."""

    priority = "LOW"

    def __init__(self, live_dir: str):
        self.live_dir = live_dir
        self._rows: list[dict[str, float]] = []  # one per epoch: {"epoch", "train/loss", "train/lr", val...}
        self._losses: list[float] = []
        self._validate_at_start = False

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if outputs and "loss" in outputs:
            self._losses.append(float(outputs["loss"].detach()))

    def after_train_epoch(self, runner) -> None:
        # the parameter schedulers (default hooks, same priority, registered first) have stepped: the
        # learning rate logged is the one the next epoch starts with
        row = {"epoch": runner.epoch + 1, "train/lr": float(runner.optim_wrapper.get_lr()["lr"][0])}
        if self._losses:
            row["train/loss"] = float(np.mean(self._losses))
        self._rows = [r for r in self._rows if r["epoch"] < row["epoch"]] + [row]
        self._losses.clear()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault("meta", {})["epoch_log"] = [dict(r) for r in self._rows]

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._rows = [dict(r) for r in checkpoint.get("meta", {}).get("epoch_log", [])]
        self._validate_at_start = bool(self._rows)

    def before_train(self, runner) -> None:
        if self._validate_at_start:
            self._validate_at_start = False
            runner.val_loop.run()

    def after_val_epoch(self, runner, metrics=None) -> None:
        if not is_main_process():
            return
        if not self._rows or self._rows[-1]["epoch"] != runner.epoch:  # epochs are 1-based once one has ended
            self._rows.append({"epoch": runner.epoch})
        self._rows[-1].update({key: float(value) for key, value in (metrics or {}).items()})
        self._write()

    def _write(self) -> None:
        from dvclive import Live

        live = Live(self.live_dir, dvcyaml=False, save_dvc_exp=False, resume=False)
        for row in self._rows:
            live.step = int(row["epoch"])
            for key in ("train/loss", "train/lr"):
                if key in row:
                    live.log_metric(key, row[key])
            for key, value in row.items():
                if key not in ("epoch", "train/loss", "train/lr"):
                    live.log_metric(key, value)
        live.make_summary()


@HOOKS.register_module()
class ResumeStateOnlyInLatestHook(Hook):
    """Only the latest epoch's checkpoint keeps what resume needs (optimizer, schedulers, message hub);
    the earlier ones are rewritten with weights and meta, all that publishing and the ensemble read.
    AdamW's two moments alone are twice the weights: a paper-size run's partial folder shrinks from
    epochs x (weights + resume state) to epochs x weights + one resume state (bench/checkpoint_disk.py)."""

    priority = "VERY_LOW"  # after mmengine's CheckpointHook (same priority, registered first) saved the epoch

    def before_train(self, runner) -> None:
        # a run killed between saving epoch N and slimming N - 1 resumes from N
        self._slim_before(runner, runner.epoch)

    def after_train_epoch(self, runner) -> None:
        self._slim_before(runner, runner.epoch + 1)  # epoch_{runner.epoch + 1}.pth was just saved

    @staticmethod
    def _slim_before(runner, latest: int) -> None:
        if not is_main_process():
            return
        import io
        from pathlib import Path

        from tinyactions.core import checkpoint_io
        from tinyactions.core.files import write_bytes

        for epoch in range(1, latest):
            path = Path(runner.work_dir) / f"epoch_{epoch}.pth"
            if not path.is_file():
                continue
            checkpoint = checkpoint_io.load(path, mmap=True)
            if set(checkpoint) <= {"meta", "state_dict"}:
                continue
            buffer = io.BytesIO()
            torch.save({"meta": checkpoint["meta"], "state_dict": checkpoint["state_dict"]}, buffer)
            del checkpoint
            write_bytes(path, buffer.getvalue())
