"""Stage train@<run>: train one named run of params.yaml `runs` with the shared `train` settings.

    python -m stages.train <run>

With train.nproc > 1 the stage relaunches itself under torchrun (one process per GPU, or per CPU
share with gloo). Outputs: models/<run>/epoch_<n>.pth (every epoch), metrics/train/<run>/ (dvclive).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from tinyactions import params as P
from tinyactions.recipes import BACKBONE_NAMES, LOSSES, PRESETS, RunSpec

MODELS = Path("models")
METRICS = Path("metrics/train")
PREPARED = Path("data/prepared")


def run_spec(p: dict, name: str) -> RunSpec:
    runs = P.get(p, "runs", dict)
    if name not in runs:
        raise P.ParamError(f"runs.{name}: no such run (runs: {', '.join(runs)})")
    key = f"runs.{name}"
    backbone = P.get(p, f"{key}.backbone", str, choices=BACKBONE_NAMES)
    input_kind = P.get(p, f"{key}.input", str, choices=("lr", "sr"))
    loss = P.get(p, f"{key}.loss", str, choices=LOSSES)
    if loss == "kd":
        raise P.ParamError(f"{key}.loss: kd runs are trained by the distill stage")
    return RunSpec(
        name=name, backbone=backbone, input=input_kind, loss=loss,
        lr=P.get(p, f"{key}.lr", float, minimum=0.0),
        epochs=P.get(p, f"{key}.epochs", int, minimum=1),
        preset=P.get(p, "train.preset", str, choices=PRESETS),
        input_size=P.get(p, "train.input_size", int, minimum=16),
        batch_size=P.get(p, "train.batch_size", int, minimum=1),
        seed=P.get(p, "train.seed", int),
        warmup_epochs=P.get(p, "train.warmup_epochs", int, minimum=0),
        restart_period=P.get(p, "train.restart_period", int, minimum=1),
        weight_decay=P.get(p, "train.weight_decay", float, minimum=0.0),
        sampling=P.get(p, f"{key}.sampling", str, choices=("uniform", "dense"),
                       default=P.get(p, "train.sampling.mode", str, choices=("uniform", "dense"))),
        balance=P.get(p, f"{key}.balance", bool, default=True),
        segments=P.get(p, "train.sampling.segments", int, minimum=1),
        dense_interval=P.get(p, "train.sampling.dense_interval", int, minimum=1),
        pretrained=P.get(p, f"train.pretrained.{backbone}", (str, type(None))),
        asl={k: P.get(p, f"train.asl.{k}", float) for k in ("gamma_neg", "gamma_pos", "clip")}
        | {"reduction": P.get(p, "train.asl.reduction", str, choices=("sum", "mean"))},
    )


def video_root(p: dict, input_kind: str) -> str:
    if input_kind == "sr":
        return "data/superres"
    return P.get(p, "data.root", str)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m stages.train <run>")
    name = sys.argv[1]
    log = P.setup_logging(f"train@{name}")
    p = P.load()
    spec = run_spec(p, name)
    if spec.pretrained and not Path(spec.pretrained).is_file():
        raise P.ParamError(f"train.pretrained.{spec.backbone}: {spec.pretrained} does not exist")
    nproc = P.get(p, "train.nproc", int, minimum=1)
    if nproc > 1 and "LOCAL_RANK" not in os.environ:
        # one process per device; --standalone keeps parallel queue workers from colliding
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "stages.train", name]
        log.info("launching %d processes: %s", nproc, " ".join(cmd))
        os.execv(sys.executable, cmd)
    from tinyactions.training import train
    train(spec, MODELS, METRICS, str(PREPARED / "train.parquet"), str(PREPARED / "val.parquet"),
          video_root(p, spec.input), workers=P.get(p, "execution.loader_workers", int, minimum=0))
    log.info("done: %s", MODELS / name)


if __name__ == "__main__":
    try:
        main()
    except P.ParamError as e:
        sys.exit(f"train: {e}")
