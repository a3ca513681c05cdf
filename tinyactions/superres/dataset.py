"""The superres stage's job: every readable video of the prepared index, upscaled once into a per-video
cache keyed by the input's bytes, the SR settings and the weights, then assembled into ``data/superres``
with its manifest.

A cache entry is reused only when its bytes still have the sha256 recorded beside it when it was written
(``<key>.sha256``): a damaged or cut entry is upscaled again. The stage's outputs are copies of the
entries (clones where the file system has them), never a second name for the same file, so damage to an
output (or to DVC's cache behind it) never reaches the cache, and a rerun repairs it."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from tinyactions.challenge.annotations import SPLITS
from tinyactions.core import precision as numeric
from tinyactions.core.files import copy_file, file_digest, remove_orphans, write_json, write_text
from tinyactions.core.paths import Workspace
from tinyactions.data.index import originals
from tinyactions.superres.network import weights_digest
from tinyactions.superres.upscale import UpscaleJob, process_parallel

log = logging.getLogger(__name__)


def cache_key(video: str | os.PathLike, settings: dict, weights: str) -> str:
    """Identity of one SR output: the input file's bytes, the SR settings, the weights."""
    blob = json.dumps({"video": file_digest(video), "settings": settings, "weights": weights}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def cached(ws: Workspace, key: str) -> Path:
    """Where the per-video cache keeps the output of ``key``."""
    return ws.superres_cache / key[:2] / f"{key}.mp4"


def recorded(ws: Workspace, key: str) -> Path:
    """The sha256 of ``key``'s entry, written beside it when the entry was."""
    return ws.superres_cache / key[:2] / f"{key}.sha256"


def intact(ws: Workspace, key: str) -> bool | None:
    """Whether ``key``'s entry still has the bytes it was written with: True; no entry: False; a damaged one
    (or one without its record): None, and it is removed, to be upscaled again."""
    entry, record = cached(ws, key), recorded(ws, key)
    if not entry.is_file():
        return False
    if record.is_file() and file_digest(entry) == record.read_text().strip():
        return True
    entry.unlink()
    record.unlink(missing_ok=True)
    return None


def dataset_videos(ws: Workspace) -> list[str]:
    """Relative paths of every readable video of every split (balance copies share their video)."""
    import pandas as pd

    found = []
    for split in SPLITS:
        index = pd.read_parquet(ws.index(split))
        found += originals(index)["path"].tolist()
    return sorted(set(found))


def upscale_dataset(
    root: str | os.PathLike,
    job: UpscaleJob,
    codec: str,
    where: list[str],
    shard: int,
    shards: int,
    ws: Workspace,
    progress: Callable[..., Callable[[int], None]] | None = None,
) -> int:
    """The superres stage's job: the prepared index's videos and their cache keys (load), the ones the
    per-video cache lacks (``to_upscale``; only every ``shards``-th from ``shard`` when sharded), upscaled on
    the devices of ``where`` (see ``devices``), then, unsharded, ``assemble``; all of it in ``ws``.
    Returns the number of videos upscaled now."""
    root = Path(root)
    remove_orphans(ws.superres_cache, recursive=True)  # outputs of a worker killed before its rename
    videos = dataset_videos(ws)
    mine = videos[shard::shards]
    net = job.network()
    weights = weights_digest(net)
    stored = {**job.settings(where[0]), **({"codec": codec} if codec != "mp4v" else {})}
    keys = {rel: cache_key(root / rel, stored, weights) for rel in mine}
    found = {key: intact(ws, key) for key in sorted(set(keys.values()))}
    damaged = sorted(str(cached(ws, key)) for key, ok in found.items() if ok is None)
    if damaged:  # one line, however many: a cache from before entries had a record has no record for any
        log.warning(
            "%d of %d cache entries lack the bytes they were written with (damaged, or written before entries "
            "had a record), first %s: upscaled again",
            len(damaged),
            len(found),
            damaged[0],
        )
    todo = to_upscale(mine, keys, lambda key: found[key] is True)
    log.info(
        "%d videos (shard %d/%d: %d), %d cached, %d to upscale",
        len(videos),
        shard,
        shards,
        len(mine),
        len(mine) - len(todo),
        len(todo),
    )
    process_parallel(
        [(str(root / rel), str(cached(ws, keys[rel]))) for rel in todo],
        job,
        where,
        codec,
        progress("superres", len(todo)) if progress else None,
        net,
    )
    for rel in todo:  # what the entries were written with, for the next run to check
        write_text(recorded(ws, keys[rel]), file_digest(cached(ws, keys[rel])) + "\n")
    if shards > 1:
        return len(todo)
    device = torch.device(where[0])
    assemble(ws, videos, keys, numeric.record(numeric.resolve(job.precision, "superres", device), device))
    log.info("wrote %d videos to %s", len(videos), ws.superres)
    return len(todo)


def to_upscale(videos: list[str], keys: dict[str, str], is_cached: Callable[[str], bool]) -> list[str]:
    """The videos to upscale now: one per cache key the cache lacks (identical files are upscaled once)."""
    todo, queued = [], set()
    for rel in videos:
        if keys[rel] not in queued and not is_cached(keys[rel]):
            queued.add(keys[rel])
            todo.append(rel)
    return todo


def assemble(ws: Workspace, videos: list[str], keys: dict[str, str], made_with: dict) -> None:
    """``data/superres`` from the cache (copies: clones where the file system has them) and
    ``data/manifests/sr.json``: how the videos were made, and path -> cache key (what runs on super-resolved
    input depend on)."""
    shutil.rmtree(ws.superres, ignore_errors=True)
    for rel in videos:
        target = ws.superres / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        copy_file(cached(ws, keys[rel]), target)
    write_json(ws.sr_manifest, {"made_with": made_with, "videos": {rel: keys[rel] for rel in videos}})
