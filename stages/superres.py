"""Stage superres: every readable video of the prepared index upscaled to superres.size, same ids.

    python -m stages.superres                 # all videos -> data/superres/<same relative path>
    python -m stages.superres --shard 2/4     # only every 4th video from the 3rd: fills the cache

Each output is cached in data/.superres-cache under the hash of the input's bytes + SR settings +
weights, outside DVC's outputs: an interrupted run resumes where it stopped, new videos are the only
work after a dataset grows, and shards on several processes/GPUs/hosts (sharing that folder, or
merging it) split the work; a final run without --shard assembles data/superres from the cache and
writes data/manifests/sr.json (path -> cache key: what runs on super-resolved input depend on).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from tinyactions import params as P
from tinyactions import superres as S
from tinyactions.annotations import SPLITS
from tinyactions.atomic import write_json
from tinyactions.video import VideoDecodeError
from stages.superres_fit import OUT as WEIGHTS, generator_spec

OUT = Path("data/superres")
MANIFEST = Path("data/manifests/sr.json")
CACHE = Path("data/.superres-cache")
CHUNK = 16  # clips decoded ahead and upscaled together


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


def videos() -> list[str]:
    """Relative paths of every readable video of every split (balance copies share their video)."""
    paths = []
    for split in SPLITS:
        index = pd.read_parquet(f"data/prepared/{split}.parquet")
        paths += index.loc[index["readable"] & ~index["flip"], "path"].tolist()
    return sorted(set(paths))


def cached(key: str) -> Path:
    return CACHE / key[:2] / f"{key}.mp4"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shard", help="i/n: process only this share of the videos into the cache")
    args = ap.parse_args()
    shard, shards = parse_shard(args.shard)
    log = P.setup_logging("superres")
    p = P.load()
    root = Path(P.get(p, "data.root", str))
    net = S.build_generator(generator_spec(p))
    S.load_official(net, WEIGHTS, key=str(WEIGHTS))
    if torch.cuda.is_available():
        log.info("using %d GPU(s)", torch.cuda.device_count())
    else:
        torch.set_num_threads(len(os.sched_getaffinity(0)))
    upscaler = S.Upscaler(net, P.get(p, "superres.size", int, minimum=S.SCALE),
                          window=P.get(p, "superres.window", int, minimum=3),
                          overlap=P.get(p, "superres.overlap", int, minimum=0),
                          batch=P.get(p, "execution.superres_batch", int, minimum=1))
    settings, weights = upscaler.settings(), S.weights_digest(net)

    paths = videos()
    mine = paths[shard::shards]
    keys = {rel: S.cache_key(root / rel, settings, weights) for rel in mine}
    todo = [rel for rel in mine if not cached(keys[rel]).is_file()]
    log.info("%d videos (shard %d/%d: %d), %d cached, %d to upscale", len(paths), shard, shards, len(mine),
             len(mine) - len(todo), len(todo))

    with tqdm(total=len(todo), unit="clip", desc="superres") as bar:
        try:
            S.process([(str(root / rel), str(cached(keys[rel]))) for rel in todo], upscaler, CHUNK, bar.update)
        except VideoDecodeError as e:  # prepare found it readable: the file changed since
            raise SystemExit(f"superres: {e}") from None
    if shards > 1:
        log.info("shard done; run without --shard to assemble %s", OUT)
        return
    shutil.rmtree(OUT, ignore_errors=True)
    for rel in paths:
        target = OUT / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(cached(keys[rel]), target)
        except OSError:
            shutil.copyfile(cached(keys[rel]), target)
    write_json(MANIFEST, {rel: keys[rel] for rel in paths})
    log.info("wrote %d videos to %s", len(paths), OUT)


if __name__ == "__main__":
    try:
        main()
    except P.ParamError as e:
        sys.exit(f"superres: {e}")
