"""Run one training run with mmengine's Runner: resumable, every epoch kept, optionally distributed.

A run trains in a scratch folder ``models/.partial/<run>-<fingerprint>`` that DVC does not own, so a
killed ``dvc repro`` (which deletes stage outputs before rerunning) loses nothing: the next attempt
with the same fingerprint (resolved config + the bytes of its inputs) resumes from the last complete
epoch; any other fingerprint starts afresh. When the last epoch is done the run is published
(:func:`publish`): weights only in ``models/<run>``, byte-reproducible; dvclive's metrics to
``metrics/train/<run>``; the Runner's timestamped logs beside, in ``logs/train/<run>``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import torch

from tinyactions.core import checkpoint_io
from tinyactions.core import precision as numeric
from tinyactions.core.files import file_digest, remove_orphans, write_text
from tinyactions.train.recipes import RunSpec, runner_config
from tinyactions.train.workers import prepare_forkserver

PARTIAL = ".partial"


_WORK_DIR = re.compile(r"(?P<run>.+)-[0-9a-f]{16}(\.publish)?")


def partial_run(folder_name: str) -> str | None:
    """The run whose work folder (``<run>-<fingerprint>``, or its ``.publish`` staging) this is; None
    for anything else. Run names may contain '-': ``x-lr-<fingerprint>`` belongs to ``x-lr``, not ``x``."""
    found = _WORK_DIR.fullmatch(folder_name)
    return found["run"] if found else None


def remove_stale_work(partial_root: Path, run: str, keep: Path) -> None:
    """Remove the work folders of ``run`` under other fingerprints (its settings or inputs changed); those
    of other runs stay, whatever their names share."""
    for folder in partial_root.iterdir() if partial_root.is_dir() else []:
        if partial_run(folder.name) == run and folder != keep:
            shutil.rmtree(folder)


def resumable(work_dir: Path) -> bool:
    """Whether ``work_dir`` holds a run to resume, repairing its ``last_checkpoint`` when a kill cut it.
    mmengine writes that file with a plain ``open()`` after saving an epoch (CheckpointHook); killed in
    that window it is empty, and every retry would fail on ``resume('')``. The epoch just saved is
    complete then (the file is written after it), so the newest epoch that holds resume state and reads
    whole is named instead; without one, the run starts afresh."""
    marker = work_dir / "last_checkpoint"
    if not marker.is_file():
        return False
    named = marker.read_text(errors="replace").strip()
    if named and Path(named).is_file():
        return True
    for epoch in sorted(work_dir.glob("epoch_*.pth"), key=lambda p: int(p.stem.split("_")[-1]), reverse=True):
        try:
            if "optimizer" in checkpoint_io.load(epoch, mmap=True):
                write_text(marker, str(epoch))
                return True
        except checkpoint_io.CheckpointError:
            continue  # cut short by a kill while saving
    marker.unlink()
    return False


def fingerprint(cfg: dict, inputs: list[str]) -> str:
    """Identity of a training run: its resolved config and the content of the files it reads."""
    blob = json.dumps({"cfg": cfg, "inputs": {p: file_digest(p) for p in inputs if p}}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_fingerprint(cfg: dict, processes: int, inputs: list[str]) -> str:
    """A training run's identity: what trains (its resolved config and process count, less where it works,
    how it launches and where its code lives: ``custom_imports`` names the registry's module, and a code
    move once changed run.json through it while the weights stayed byte for byte) and its inputs' bytes."""
    kept = {k: v for k, v in cfg.items() if k not in ("work_dir", "launcher", "custom_imports")}
    return fingerprint({**kept, "processes": processes}, inputs)


def publish(spec: RunSpec, key: str, work_dir: Path, final: Path, live_out: Path, logs_out: Path) -> None:
    """A finished run becomes ``final``: the weights of every epoch and run.json, the same bytes for the
    same code, settings and inputs. Resume state (optimizer, schedulers, message hub) and the Runner's
    metadata (start time, experiment name) stay out: nothing resumes a finished run. The Runner's logs
    (timestamped) go to ``logs_out``, dvclive's per-epoch metrics to ``live_out``. The work folder stays
    resumable until the one rename that publishes."""
    staging = work_dir.with_name(work_dir.name + ".publish")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for path in sorted(work_dir.glob("epoch_*.pth")):
        checkpoint = checkpoint_io.load(path)
        buffer = io.BytesIO()  # in memory: torch.save names a file's archive after the file
        torch.save(
            {"state_dict": checkpoint["state_dict"], "meta": {k: checkpoint["meta"][k] for k in ("epoch", "iter")}},
            buffer,
        )
        (staging / path.name).write_bytes(buffer.getvalue())
    recipe = dict(spec.__dict__)  # the initial weights by name and content, never by a host's path
    if spec.pretrained:
        recipe["pretrained"] = {"file": Path(spec.pretrained).name, "sha256": file_digest(spec.pretrained)}
    device = numeric.training_device()
    made_with = numeric.record(numeric.resolve(spec.precision, "train", device), device)
    (staging / "run.json").write_text(
        json.dumps(
            {"run": spec.name, "fingerprint": key, "epochs": spec.epochs, "made_with": made_with, "spec": recipe},
            indent=2,
        )
        + "\n"
    )
    shutil.rmtree(live_out, ignore_errors=True)
    if (work_dir / "live").is_dir():
        shutil.copytree(work_dir / "live", live_out)
    shutil.rmtree(logs_out, ignore_errors=True)
    logs_out.mkdir(parents=True)
    for path in sorted(work_dir.iterdir()):
        if path.name not in ("live", "last_checkpoint") and not path.name.startswith("epoch_"):
            shutil.move(str(path), logs_out / path.name)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)
    shutil.rmtree(work_dir)


def distributed_env() -> tuple[int, int]:
    """(rank, world size) under torchrun, (0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def init_distributed() -> str:
    """Initialise the process group before the Runner: mmengine's own init assumes CUDA. Returns the
    mmengine launcher name."""
    _, world = distributed_env()
    if world == 1:
        return "none"
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend)
    return "pytorch"


def train(
    spec: RunSpec,
    models_dir: Path,
    metrics_dir: Path,
    logs_dir: Path,
    train_index: str,
    val_index: str,
    video_root: str,
    teacher_file: str | None = None,
    workers: int = 0,
    batch_per_process: int | None = None,
):
    """Train ``spec`` to completion (resuming a matching partial run). Returns the mmengine Runner;
    the checkpoints are in ``models_dir/<run>``, the per-epoch metrics in ``metrics_dir/<run>`` and the
    Runner's logs in ``logs_dir/<run>``. ``workers`` data-loading processes per training process
    change the speed, never the result, nor which partial run is resumed; the global batch is
    ``spec.batch_size`` over the processes (``batch_per_process`` clips each, gradients accumulated)."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from tinyactions.train import registry  # noqa: F401  (registrations)

    launcher = init_distributed()
    rank, world = distributed_env()
    partial_root = models_dir / PARTIAL
    # the run's identity: its result settings (execution settings such as workers left at their
    # defaults), how the batch is split over processes and its inputs' bytes
    probe = runner_config(
        spec,
        "",
        train_index,
        val_index,
        video_root,
        "",
        teacher_file,
        processes=world,
        batch_per_process=batch_per_process,
    )
    key = run_fingerprint(probe, world, [train_index, val_index, teacher_file or "", spec.pretrained or ""])
    work_dir = partial_root / f"{spec.name}-{key}"
    if rank == 0:
        remove_stale_work(partial_root, spec.name, keep=work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        remove_orphans(work_dir)
        resumable(work_dir)  # repairs a cut last_checkpoint before any process reads it
    if world > 1:
        torch.distributed.barrier()
    resume = (work_dir / "last_checkpoint").is_file()
    live_dir = work_dir / "live"
    cfg = runner_config(
        spec,
        str(work_dir),
        train_index,
        val_index,
        video_root,
        str(live_dir),
        teacher_file,
        launcher=launcher,
        workers=workers,
        processes=world,
        batch_per_process=batch_per_process,
    )
    if workers:
        prepare_forkserver()
    cfg["resume"] = resume
    if launcher == "pytorch" and not torch.cuda.is_available():
        # mmengine passes device_ids unconditionally; a CPU (gloo) DDP needs none
        cfg["model_wrapper_cfg"] = dict(type="MMDistributedDataParallel", device_ids=None)
        cfg["env_cfg"]["dist_cfg"] = dict(backend="gloo")
    runner = Runner.from_cfg(Config(cfg))
    runner.train()

    if rank == 0:
        publish(spec, key, work_dir, models_dir / spec.name, metrics_dir / spec.name, logs_dir / spec.name)
    if world > 1:
        torch.distributed.barrier()
    return runner
