"""Stage teacher@<student>: the student's teacher scores the super-resolved version of every training sample.

    python -m stages.teacher <student>

The teacher is an SR run (students.<student>.teacher) at a checkpoint chosen as an ensemble member's is
(students.<student>.teacher_epoch: a number, best or last; best by best_by on its val dump). Output:
data/teachers/<student>.parquet keyed by sample_id (video id, ":flip" for a balance copy, scored on the
flipped SR clip), s_<class> columns.
"""

import sys

from tinyactions.app import stage
from tinyactions.core.checkpoint_io import CheckpointError
from tinyactions.core.paths import REPO
from tinyactions.core.progress import Phases
from tinyactions.score.member import Member
from tinyactions.score.settings import BestBy, Dump, ScoreExecution
from tinyactions.score.teacher import score_teacher
from tinyactions.train.settings import RunReads


class TeacherReads(RunReads):
    best_by: BestBy
    dump: Dump
    execution: ScoreExecution


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m stages.teacher <student>")
    student = sys.argv[1]
    log = stage.logger(f"teacher@{student}")
    s = TeacherReads.load(REPO.params)
    rule = Member(*s.teacher(student))
    with Phases("clip") as progress:
        epoch = score_teacher(
            s.run_spec(rule.run),
            rule,
            student,
            s.best_by,
            s.dump,
            s.execution.score_chunk,
            REPO,
            progress,
        )
    log.info("%s: teacher %s@%d", student, rule.run, epoch)


if __name__ == "__main__":
    stage.run("teacher", main, errors=(FileNotFoundError, CheckpointError))
