"""Stage dump@<run>: score every saved epoch of a run on val and test into one table.

    python -m stages.dump <run>

Output: data/scores/<run>.parquet with columns run, epoch, split, id, sample_id, readable, s_<class>
(26 sigmoid scores; NaN where prepare flagged the video unreadable).
"""

import sys

from tinyactions.app import stage
from tinyactions.core.checkpoint_io import CheckpointError
from tinyactions.core.paths import REPO
from tinyactions.core.progress import Phases
from tinyactions.data.settings import Dataset
from tinyactions.score.dump import dump_run
from tinyactions.score.settings import Dump, ScoreExecution
from tinyactions.train.settings import RunReads


class DumpReads(RunReads):
    data: Dataset
    dump: Dump
    execution: ScoreExecution


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m stages.dump <run>")
    stage.logger(f"dump@{sys.argv[1]}")
    s = DumpReads.load(REPO.params)
    spec = s.run_spec(sys.argv[1])
    with Phases("clip") as progress:
        dump_run(
            spec,
            REPO.video_root(spec.input, s.data.root),
            s.dump,
            s.execution.score_chunk,
            s.epochs_key(spec.name),
            REPO,
            progress,
        )


if __name__ == "__main__":
    stage.run("dump", main, errors=(FileNotFoundError, CheckpointError))
