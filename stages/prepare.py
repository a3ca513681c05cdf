"""Stage prepare: validate every annotation entry against its video and write the prepared index
(see tinyactions.data.prepare for the outputs)."""

from tinyactions.app import stage
from tinyactions.challenge.annotations import AnnotationError
from tinyactions.core.params import Reads
from tinyactions.core.paths import REPO
from tinyactions.core.progress import Phases
from tinyactions.data.index import BadEntriesError, default_workers
from tinyactions.data.prepare import Balance, Data, PrepareExecution, prepare


class PrepareReads(Reads):
    data: Data
    balance: Balance
    execution: PrepareExecution


def main() -> None:
    log = stage.logger("prepare")
    s = PrepareReads.load(REPO.params)
    with Phases("video") as progress:
        stats = prepare(s.data, s.balance, s.execution.data_workers or default_workers(), REPO, progress)
    log.info("prepared %s videos (%d train samples with balance copies)", stats["videos"], stats["train_samples"])


if __name__ == "__main__":
    stage.run("prepare", main, errors=(AnnotationError, BadEntriesError, ValueError))
