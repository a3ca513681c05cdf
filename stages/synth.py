"""Stage synth: generate the demo dataset in the TinyVIRAT-v2 layout (data.source = synth).

With data.source = tinyvirat the real dataset is used and this stage writes only a note, so the
pipeline keeps one shape for both sources.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from tqdm import tqdm

from tinyactions import params as P
from tinyactions.atomic import write_json, write_text
from tinyactions.synth import SynthConfig, generate

LR_ROOT = Path("data/raw/tinyvirat-synth")
HR_ROOT = Path("data/raw/tinyvirat-synth-hr")


def config(p: dict) -> SynthConfig:
    videos = {s: P.get(p, f"synth.videos.{s}", int, minimum=1) for s in ("train", "val", "test")}
    cfg = SynthConfig(
        seed=P.get(p, "synth.seed", int),
        videos=videos,
        hr_size=P.get(p, "synth.hr_size", int, minimum=32, maximum=512),
        lr_size_min=P.get(p, "synth.lr_size.min", int, minimum=4),
        lr_size_max=P.get(p, "synth.lr_size.max", int, maximum=512),
        lr_size_median=P.get(p, "synth.lr_size.median", int, minimum=4),
        frames_min=P.get(p, "synth.frames.min", int, minimum=1),
        frames_max=P.get(p, "synth.frames.max", int, minimum=1),
        frames_median=P.get(p, "synth.frames.median", int, minimum=1),
        virat_sources=P.get(p, "synth.sources.virat", int, minimum=1),
        meva_sources=P.get(p, "synth.sources.meva", int, minimum=0),
    )
    if not cfg.lr_size_min <= cfg.lr_size_median <= cfg.lr_size_max <= cfg.hr_size:
        raise P.ParamError("synth.lr_size: need min <= median <= max <= synth.hr_size")
    if not cfg.frames_min <= cfg.frames_median <= cfg.frames_max:
        raise P.ParamError("synth.frames: need min <= median <= max")
    return cfg


def main() -> None:
    log = P.setup_logging("synth")
    p = P.load()
    source = P.get(p, "data.source", str, choices=("synth", "tinyvirat"))
    for root in (LR_ROOT, HR_ROOT):
        shutil.rmtree(root, ignore_errors=True)
    if source != "synth":
        for root in (LR_ROOT, HR_ROOT):
            write_text(root / "NOT_GENERATED.txt", "data.source is not synth: the demo dataset was not generated.\n")
        log.info("data.source = %s: demo dataset not generated", source)
        return
    cfg = config(p)
    total = sum(cfg.videos.values())
    log.info("rendering %d clips (%s) at %d px into %s", total, cfg.videos, cfg.hr_size, LR_ROOT)
    with tqdm(total=total, unit="clip", desc="synth") as bar:
        summary = generate(cfg, LR_ROOT, HR_ROOT, progress=lambda split: bar.update(1))
    write_json(HR_ROOT / "summary.json", summary)
    log.info("wrote %s and clean renders in %s", LR_ROOT, HR_ROOT)


if __name__ == "__main__":
    main()
