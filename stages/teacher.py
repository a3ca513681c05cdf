"""Stage teacher: the teacher's scores on the super-resolved version of every LR training sample.

The teacher is a run on SR input (kd.teacher) at a fixed epoch or at its best validation F1
(kd.teacher_epoch: best). Output: data/scores/teacher.parquet keyed by sample_id (video id, ":flip"
for a balance copy, scored on the flipped SR clip), s_<class> columns.
"""
from tqdm import tqdm

from tinyactions import settings, stage
from tinyactions.scores import score_teacher


def main() -> None:
    log = stage.logger("teacher")
    s = settings.load()
    with tqdm(unit="clip", desc="teacher") as bar:
        epoch = score_teacher(s.run_spec(s.kd.teacher), s.kd.teacher_epoch, s.execution.score_chunk, bar.update)
    log.info("teacher %s@%d", s.kd.teacher, epoch)


if __name__ == "__main__":
    stage.run("teacher", main, errors=(FileNotFoundError,))
