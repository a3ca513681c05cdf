"""Stage superres_fit: the RealBasicVSR generator the superres stage uses, in the official format.

superres.weights = fit: fit mmagic's RealBasicVSRNet on the generated demo's HR/LR training pairs, starting
from its own bilinear upsampling (no pretrained weights exist here), and report PSNR/SSIM of SR vs bicubic
upscaling on held-out (val) pairs in metrics/superres.json (per clip: metrics/superres_clips.csv; the
fit's loss per step: metrics/superres_fit.tsv).
superres.weights = <path>: validate an official checkpoint (generator_ema.* weights) and copy it.
Output: models/superres/generator.pth.
"""
from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from tinyactions import params as P
from tinyactions import superres as S
from tinyactions.atomic import write_json, write_table
from tinyactions.video import read_video

OUT = Path("models/superres/generator.pth")
METRICS = Path("metrics/superres.json")
CLIPS = Path("metrics/superres_clips.csv")  # per held-out clip: SR vs bicubic (a plot)
LOSS = Path("metrics/superres_fit.tsv")  # the fit's L1 per step (a plot)
HR_ROOT = Path("data/raw/tinyvirat-synth-hr")


def generator_spec(p: dict) -> S.GeneratorSpec:
    return S.GeneratorSpec(mid_channels=P.get(p, "superres.generator.mid_channels", int, minimum=1),
                           propagation_blocks=P.get(p, "superres.generator.propagation_blocks", int, minimum=1),
                           cleaning_blocks=P.get(p, "superres.generator.cleaning_blocks", int, minimum=1))


def sample_clips(split: str, count: int, seed: int) -> list[str]:
    """Relative paths of ``count`` readable original (not flipped) clips of a split."""
    index = pd.read_parquet(f"data/prepared/{split}.parquet")
    rows = index[~index["flip"] & index["readable"]]
    return rows.sample(n=min(count, len(rows)), random_state=seed)["path"].tolist()


def load_pairs(paths: list[str], lr_root: Path) -> list:
    return [(read_video(lr_root / rel), read_video(HR_ROOT / rel)) for rel in paths]


def weights_source(p: dict) -> str:
    """superres.weights: 'fit' (only on the generated demo, which has clean renders) or a checkpoint path."""
    weights = P.get(p, "superres.weights", str)
    if weights == "fit" and P.get(p, "data.source", str) != "synth":
        raise P.ParamError("superres.weights: 'fit' needs the generated demo's HR renders (data.source: synth); "
                           "give the path of an official RealBasicVSR checkpoint for real data")
    return weights


def main() -> None:
    log = P.setup_logging("superres_fit")
    p = P.load()
    weights = weights_source(p)
    size = P.get(p, "superres.size", int, minimum=S.SCALE)
    if size % S.SCALE:
        raise P.ParamError(f"superres.size: {size} is not a multiple of {S.SCALE}")
    spec = generator_spec(p)
    torch.manual_seed(P.get(p, "superres.fit.seed", int, minimum=0))
    net = S.build_generator(spec)
    if weights != "fit":
        try:
            S.load_official(net, weights)
        except (FileNotFoundError, KeyError) as e:
            raise P.ParamError(str(e)) from None
        except RuntimeError as e:
            raise P.ParamError(f"superres.generator: does not match the checkpoint {weights}: {e}") from None
        S.save_official(net, OUT, {"source": weights, "generator": asdict(spec)})
        write_json(METRICS, {"weights": weights, "fitted": False})
        write_table(CLIPS, pd.DataFrame(columns=S.COMPARISON_COLUMNS))  # no clean renders to compare with
        write_table(LOSS, pd.DataFrame(columns=["step", "l1"]))
        log.info("using %s", weights)
        return
    fit = {k: P.get(p, f"superres.fit.{k}", kind, minimum=m) for k, kind, m in (
        ("clips", int, 1), ("iterations", int, 0), ("clip_len", int, 2), ("batch", int, 1), ("lr", float, 0.0),
        ("eval_clips", int, 1), ("seed", int, 0))}
    lr_root = Path(P.get(p, "data.root", str))
    train_pairs = load_pairs(sample_clips("train", fit["clips"], fit["seed"]), lr_root)
    log.info("fitting on %d clip pairs, %d iterations", len(train_pairs), fit["iterations"])
    start = time.time()
    with tqdm(total=fit["iterations"], desc="fit", unit="it") as bar:
        def step(loss):
            bar.set_postfix(l1=f"{loss:.4f}")
            bar.update(1)
        losses = S.fit(S.start_from_upsampling(net), train_pairs, size, fit["iterations"], clip_len=fit["clip_len"],
                       batch=fit["batch"], lr=fit["lr"], seed=fit["seed"], progress=step)
    S.save_official(net, OUT, {"source": "fit", "generator": asdict(spec), "fit": fit})

    write_table(LOSS, pd.DataFrame({"step": np.arange(1, len(losses) + 1), "l1": losses}))

    eval_clips = sample_clips("val", fit["eval_clips"], fit["seed"])
    upscaler = S.Upscaler(net, size, window=P.get(p, "superres.window", int, minimum=3),
                          overlap=P.get(p, "superres.overlap", int, minimum=0))
    table = S.compare_with_bicubic(upscaler, load_pairs(eval_clips, lr_root), eval_clips)
    write_table(CLIPS, table)
    summary = {name: {k: float(table[f"{k}_{name}"].mean()) for k in ("psnr", "ssim")} for name in ("sr", "bicubic")}
    summary.update(weights="fit", fitted=True, eval_clips=len(table),
                   clips_sr_better=int((table["psnr_sr"] > table["psnr_bicubic"]).sum()),
                   fit_seconds=round(time.time() - start, 1),
                   final_l1=float(np.mean(losses[-10:])) if losses else None)
    write_json(METRICS, summary)
    log.info("val PSNR: SR %.2f dB vs bicubic %.2f dB (SR better on %d of %d clips); SSIM %.4f vs %.4f",
             summary["sr"]["psnr"], summary["bicubic"]["psnr"], summary["clips_sr_better"], len(table),
             summary["sr"]["ssim"], summary["bicubic"]["ssim"])


if __name__ == "__main__":
    try:
        main()
    except P.ParamError as e:
        sys.exit(f"superres_fit: {e}")
