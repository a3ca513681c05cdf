"""Stage distill: the LR student of the seed, L = a*BCE(p, y) + (1-a)*MSE(sigmoid(p), k), trained by the
same mmengine path as every run (per-epoch checkpoints, dvclive, resume, torchrun), with k the
teacher's scores on the SR version of the very same sample (joined by sample_id).

Output: models/<kd.student.name>/epoch_<n>.pth, metrics/train/<kd.student.name>/.
"""
from __future__ import annotations

import dataclasses
import os
import sys

from tinyactions import params as P
from tinyactions.recipes import BACKBONE_NAMES
from stages.teacher import OUT as TEACHER
from stages.train import MODELS, PREPARED, run_spec, video_root
from stages.train import METRICS


def student_spec(p: dict):
    name = P.get(p, "kd.student.name", str)
    runs = P.get(p, "runs", dict)
    if name in runs:
        raise P.ParamError(f"kd.student.name: {name} is also a run in runs; pick another name")
    backbone = P.get(p, "kd.student.backbone", str, choices=BACKBONE_NAMES)
    base = dict(backbone=backbone, input="lr", loss="bce", lr=P.get(p, "kd.student.lr", float, minimum=0.0),
                epochs=P.get(p, "kd.student.epochs", int, minimum=1))
    spec = run_spec({**p, "runs": {**runs, name: base}}, name)
    return dataclasses.replace(spec, loss="kd", kd_alpha=P.get(p, "kd.alpha", float, minimum=0.0, maximum=1.0))


def main() -> None:
    p = P.load()
    spec = student_spec(p)
    log = P.setup_logging(f"distill@{spec.name}")
    nproc = P.get(p, "train.nproc", int, minimum=1)
    if nproc > 1 and "LOCAL_RANK" not in os.environ:
        os.execv(sys.executable, [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                  f"--nproc_per_node={nproc}", "-m", "stages.distill"])
    from tinyactions.training import train
    train(spec, MODELS, METRICS, str(PREPARED / "train.parquet"), str(PREPARED / "val.parquet"),
          video_root(p, "lr"), teacher_file=str(TEACHER),
          workers=P.get(p, "execution.loader_workers", int, minimum=0))
    log.info("done: %s (alpha %.2f)", MODELS / spec.name, spec.kd_alpha)


if __name__ == "__main__":
    try:
        main()
    except P.ParamError as e:
        sys.exit(f"distill: {e}")
