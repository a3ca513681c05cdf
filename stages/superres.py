"""Stage superres: every readable video of the prepared index upscaled to superres.size, same ids.

    python -m stages.superres                 # all videos -> data/superres/<same relative path>
    python -m stages.superres --shard 2/4     # only every 4th video from the 3rd: fills the cache

Each output is cached in data/.superres-cache under the hash of the input's bytes + SR settings +
weights, outside DVC's outputs: an interrupted run resumes where it stopped, new videos are the only
work after a dataset grows, and shards on several processes/GPUs/hosts (sharing that folder, or
merging it) split the work (on one host, execution.superres_workers CPU processes, or one per
visible GPU, do it without --shard); a final run without --shard assembles data/superres from the cache and
writes data/manifests/sr.json (path -> cache key: what runs on super-resolved input depend on).
"""

import argparse

from tinyactions.app import stage
from tinyactions.core.checkpoint_io import CheckpointError
from tinyactions.core.params import Reads
from tinyactions.core.paths import REPO
from tinyactions.core.progress import Phases
from tinyactions.data.settings import Dataset
from tinyactions.data.video import VideoDecodeError
from tinyactions.superres import dataset, upscale
from tinyactions.superres.settings import Inference, UpscaleExecution


class SuperresReads(Reads):
    data: Dataset
    superres: Inference
    execution: UpscaleExecution


def parse_shard(text: str | None) -> tuple[int, int]:
    if text is None:
        return 0, 1
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise SystemExit(f"--shard: expected i/n, got {text!r}") from None
    if not 0 <= index < count:
        raise SystemExit(f"--shard: need 0 <= i < n, got {text!r}")
    return index, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shard", help="i/n: process only this share of the videos into the cache")
    shard, shards = parse_shard(ap.parse_args().shard)
    log = stage.logger("superres")
    s = SuperresReads.load(REPO.params)
    job = upscale.UpscaleJob.of(s.superres.inference(), str(REPO.generator), s.execution.superres_batch)
    where = upscale.devices(s.execution.superres_workers)
    log.info("%d worker(s) on %s, %s", len(where), where[0], job.settings(where[0]).get("precision", "fp32"))
    with Phases("clip") as progress:
        dataset.upscale_dataset(s.data.root, job, s.superres.storage, where, shard, shards, REPO, progress)
    if shards > 1:
        log.info("shard done; run without --shard to assemble %s", REPO.superres)


if __name__ == "__main__":
    # VideoDecodeError: prepare found the file readable, so it changed since
    stage.run("superres", main, errors=(VideoDecodeError, CheckpointError))
