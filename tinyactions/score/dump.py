"""Score tables: sigmoid scores of every saved epoch of a run, keyed by (run, epoch, split, id).

Scoring many epochs decodes each clip once: videos are processed in chunks, each chunk is decoded and
preprocessed once and then scored by every epoch's model. Test-time sampling is deterministic
(``views`` evenly placed uniform samplings averaged). Videos that prepare flagged unreadable get a row
with ``readable = false`` and NaN scores: never a silent gap, so the submission can still write a line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tinyactions.challenge.annotations import CLASSES, SCORE_COLUMNS
from tinyactions.core import checkpoint_io
from tinyactions.core import precision as numeric
from tinyactions.core.files import file_digest, write_table
from tinyactions.core.paths import Workspace
from tinyactions.score import canary
from tinyactions.score.settings import Dump
from tinyactions.train.recipes import RunSpec, model_config, pipeline

log = logging.getLogger(__name__)


def load_epoch(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """A run's checkpoint into its network; a checkpoint of another layout is one line naming the file."""
    checkpoint = checkpoint_io.load(path)
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise checkpoint_io.CheckpointError(f"{path}: no state_dict: not a checkpoint of a run")
    checkpoint_io.load_weights(model, state, path)


def load_model(spec: RunSpec, checkpoint: str | os.PathLike, device: torch.device) -> torch.nn.Module:
    """The run's network with a checkpoint's weights, on ``device`` in eval mode."""
    from tinyactions.train.registry import build_model

    model = build_model(model_config(spec))
    load_epoch(model, checkpoint)
    return model.to(device).eval()


def test_transform(spec: RunSpec, views: int):
    """The run's deterministic test-time pipeline: a dict with ``filename`` (or decoded ``frames``) ->
    packed model input."""
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope

    from tinyactions.train import registry  # noqa: F401  (registers LoadTinyClip)

    with DefaultScope.overwrite_default_scope("mmaction"):
        return Compose(pipeline(spec, test_mode=True, views=views))


def clip_item(filename: str, sample_id: str, flip: bool = False, frames: np.ndarray | None = None) -> dict:
    """What the test pipeline reads for one clip: its file, or the clip already decoded."""
    return {
        "filename": filename,
        "flip": flip,
        "sample_id": sample_id,
        "start_index": 0,
        "modality": "RGB",
        **({"frames": frames} if frames is not None else {}),
    }


def score_batch(
    models: list[torch.nn.Module], packed: list[dict], precision: str, device: torch.device
) -> list[np.ndarray]:
    """(clips, 26) sigmoid scores of one batch of packed clips from each model. Scores depend on the
    batch's composition within float rounding: callers that must agree batch alike."""
    batch = {"inputs": [p["inputs"] for p in packed], "data_samples": [p["data_samples"] for p in packed]}
    out = []
    with torch.no_grad(), numeric.autocast(precision, device):
        for model in models:
            data = model.data_preprocessor(batch, training=False)
            predicted = model(**data, mode="predict")
            out.append(torch.stack([s.pred_score for s in predicted]).float().cpu().numpy())
    return out


def canary_scores(models: list[torch.nn.Module], transform, precision: str, device: torch.device) -> list[np.ndarray]:
    """Each model's (canary clips, 26) scores of the canary clips, in one batch (``tinyactions.score.canary``)."""
    packed = [transform(clip_item(f"canary-{k}", f"canary-{k}", frames=c)) for k, c in enumerate(canary.clips())]
    return score_batch(models, packed, precision, device)


def score_split(
    spec: RunSpec,
    checkpoints: dict[int, Path],
    index: pd.DataFrame,
    video_root: str,
    split: str,
    views: int,
    chunk: int,
    precision: str,
    device: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Rows (run, epoch, split, id, sample_id, readable, s_<class>...) for every video of ``index`` and
    every epoch of ``checkpoints``. ``index`` rows with ``flip`` are scored on the flipped clip.
    ``precision`` (fp32 | bf16 | fp16 | auto) is resolved on the device; the table's ``attrs`` (kept in
    parquet) record it, the device, each checkpoint file's sha256, each checkpoint's canary scores and the
    versions of the libraries that scored (``tinyactions.score.canary``)."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    precision = numeric.resolve(precision, "scores", device)
    models = {epoch: load_model(spec, path, device) for epoch, path in sorted(checkpoints.items())}
    transform = test_transform(spec, views)
    readable = index[index["readable"]].reset_index(drop=True)
    scores = {epoch: np.full((len(readable), len(CLASSES)), np.nan, np.float32) for epoch in models}
    for start in range(0, len(readable), chunk):
        rows = readable.iloc[start : start + chunk]
        packed = [
            transform(clip_item(os.path.join(video_root, r.path), r.sample_id, bool(r.flip))) for r in rows.itertuples()
        ]
        for epoch, batch_scores in zip(models, score_batch(list(models.values()), packed, precision, device)):
            scores[epoch][start : start + len(rows)] = batch_scores
        if progress:
            progress(len(rows))
    frames = []
    for epoch in models:
        table = pd.DataFrame(scores[epoch], columns=list(SCORE_COLUMNS))
        table.insert(0, "readable", True)
        table.insert(0, "sample_id", readable["sample_id"].to_numpy())
        table.insert(0, "id", readable["id"].to_numpy())
        table.insert(0, "split", split)
        table.insert(0, "epoch", epoch)
        table.insert(0, "run", spec.name)
        unreadable = index[~index["readable"]]
        if len(unreadable):
            missing = pd.DataFrame(
                {
                    "run": spec.name,
                    "epoch": epoch,
                    "split": split,
                    "id": unreadable["id"].to_numpy(),
                    "sample_id": unreadable["sample_id"].to_numpy(),
                    "readable": False,
                }
            )
            for col in SCORE_COLUMNS:
                missing[col] = np.float32(np.nan)
            table = pd.concat([table, missing], ignore_index=True)
        frames.append(table)
    table = pd.concat(frames, ignore_index=True)
    # how the scores were made (scores depend on the batch within rounding) and from which checkpoint files:
    # what the ensemble bundle records, so that predict can score new videos alike
    canaries = canary_scores(list(models.values()), transform, precision, device)
    table.attrs = {
        **numeric.record(precision, device),
        "batch": chunk,
        "checkpoints": {str(e): file_digest(path) for e, path in sorted(checkpoints.items())},
        "canary": {str(e): c.astype(float).tolist() for e, c in zip(models, canaries)},
        "versions": canary.versions(),
    }
    return table


def dump_run(
    spec: RunSpec,
    video_root: str,
    dump: Dump,
    chunk: int,
    epochs_key: str,
    ws: Workspace,
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
) -> Path:
    """The dump stage's job: every saved epoch of a run in ``ws`` scored on val and test, one table in
    ``ws.scores(run)``, with ``dump``'s views and precision. ``progress(description, total)`` gives a
    per-video callback;
    ``epochs_key`` names the setting of the run's epochs in the error for missing checkpoints."""
    checkpoints = {e: ws.checkpoint(spec.name, e) for e in range(1, spec.epochs + 1)}
    missing = [str(c) for c in checkpoints.values() if not c.is_file()]
    if missing:
        raise FileNotFoundError(f"{epochs_key}: checkpoints missing: {', '.join(missing)}")
    tables = []
    for split in ("val", "test"):
        index = pd.read_parquet(ws.index(split))
        tick = progress(f"{split} x {len(checkpoints)} epochs", int(index["readable"].sum())) if progress else None
        tables.append(
            score_split(
                spec,
                checkpoints,
                index,
                video_root,
                split,
                views=dump.views,
                chunk=chunk,
                precision=dump.precision,
                progress=tick,
            )
        )
    table = pd.concat(tables, ignore_index=True)
    table.attrs = tables[0].attrs
    out = ws.scores(spec.name)
    write_table(out, table)
    log.info("%d rows (%d epochs x val+test) -> %s", len(table), len(checkpoints), out)
    return out
