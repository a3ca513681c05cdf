"""The ``execution`` section: how stages run (processes, workers, chunk sizes), never what they compute.
No stage lists it as a DVC param, so a change reruns nothing and a killed run resumes."""

from __future__ import annotations

from tinyactions.core.params import Count, Positive, Reads, Section


class Execution(Section):
    nproc: Positive
    batch_per_process: Positive | None
    data_workers: Count
    loader_workers: Count
    score_chunk: Positive
    superres_batch: Positive
    superres_workers: Positive  # CPU processes (GPUs: one worker each, whatever this says)


class ExecutionReads(Reads):
    """A command that only asks how to run (``tinyactions predict``)."""

    execution: Execution
