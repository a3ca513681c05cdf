"""A student's teacher: the SR run's chosen checkpoint scores the super-resolved version of every training
sample, the soft targets of distillation (the paper's eq. 1)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd

from tinyactions.core.files import write_table
from tinyactions.core.paths import Workspace
from tinyactions.data.index import truth
from tinyactions.score.best_epoch import resolve
from tinyactions.score.dump import score_split
from tinyactions.score.member import Member
from tinyactions.score.settings import Dump
from tinyactions.train.recipes import RunSpec

log = logging.getLogger(__name__)


def score_teacher(
    teacher: RunSpec,
    rule: Member,
    student: str,
    best_by: str,
    dump: Dump,
    chunk: int,
    ws: Workspace,
    progress: Callable[..., Callable[[int], None]] | None = None,
) -> int:
    """The teacher stage's job: the teacher's checkpoint ``rule`` (``run@best``, ``@last`` or a number,
    resolved on its val dump as an ensemble member is) scores the super-resolved version of every
    training sample (balance copies on the flipped clip) into ``ws.teacher_scores(student)``,
    keyed by sample_id, with the score dumps' views and precision (``dump``). Returns the epoch used."""
    dumped = ws.scores(rule.run)
    if not dumped.is_file():
        raise FileNotFoundError(f"students.{student}.teacher: {dumped} is missing (dump@{rule.run} first)")
    val_ids, val_labels = truth(pd.read_parquet(ws.index("val")))
    epoch = resolve(rule, pd.read_parquet(dumped), val_ids, val_labels, best_by, f"students.{student}.teacher_epoch")
    index = pd.read_parquet(ws.index("train"))
    log.info("teacher %s epoch %d scores %d training samples on SR video", rule.run, epoch, len(index))
    table = score_split(
        teacher,
        {epoch: ws.checkpoint(rule.run, epoch)},
        index,
        str(ws.superres),
        "train",
        views=dump.views,
        chunk=chunk,
        precision=dump.precision,
        progress=progress(f"teacher {rule.run}@{epoch}", len(index)) if progress else None,
    )
    write_table(ws.teacher_scores(student), table)
    return epoch
