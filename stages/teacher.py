"""Stage teacher: the teacher's scores on the super-resolved version of every LR training sample.

The teacher is a run on SR input (kd.teacher) at a fixed epoch or at its best validation F1
(kd.teacher_epoch: best). Balance copies are scored on the flipped SR clip. Output:
data/scores/teacher.parquet keyed by sample_id (video id, ":flip" for a copy), s_<class> columns.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from tinyactions import params as P
from tinyactions.atomic import write_table
from tinyactions.scores import score_split
from stages.train import MODELS, PREPARED, run_spec

OUT = Path("data/scores/teacher.parquet")


def best_epoch(run: str) -> int:
    """The epoch with the highest validation F1 in the run's dvclive log."""
    path = Path("metrics/train") / run / "plots/metrics/val/f1.tsv"
    if not path.is_file():
        raise P.ParamError(f"kd.teacher_epoch: best needs {path} (train@{run} first)")
    log = pd.read_csv(path, sep="\t")
    return int(log.loc[log["f1"].idxmax(), "step"])


def teacher_spec(p: dict):
    """The teacher run's spec; it must be trained on super-resolved input."""
    name = P.get(p, "kd.teacher", str)
    spec = run_spec(p, name)
    if spec.input != "sr":
        raise P.ParamError(f"kd.teacher: {name} is trained on {spec.input} input; the teacher must be an sr run")
    return spec


def teacher_choice(p: dict):
    spec = teacher_spec(p)
    name = spec.name
    choice = P.get(p, "kd.teacher_epoch", (str, int))
    if choice == "best":
        epoch = best_epoch(name)
    elif isinstance(choice, int) and 1 <= choice <= spec.epochs:
        epoch = choice
    else:
        raise P.ParamError(f"kd.teacher_epoch: expected 'best' or an epoch in 1..{spec.epochs}, got {choice!r}")
    return spec, epoch


def main() -> None:
    log = P.setup_logging("teacher")
    p = P.load()
    spec, epoch = teacher_choice(p)
    index = pd.read_parquet(PREPARED / "train.parquet")
    log.info("teacher %s epoch %d scores %d training samples on SR video", spec.name, epoch, len(index))
    with tqdm(total=len(index), unit="clip", desc="teacher") as bar:
        table = score_split(spec, {epoch: MODELS / spec.name / f"epoch_{epoch}.pth"}, index, "data/superres", "train",
                            chunk=P.get(p, "execution.score_chunk", int, minimum=1), progress=bar.update)
    write_table(OUT, table)


if __name__ == "__main__":
    try:
        main()
    except P.ParamError as e:
        sys.exit(f"teacher: {e}")
