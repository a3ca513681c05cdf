"""Stage superres_fit: the RealBasicVSR generator the superres stage uses, in the official format.

superres.weights = fit: fit mmagic's RealBasicVSRNet on the generated demo's HR/LR training pairs, starting
from its own bilinear upsampling (no pretrained weights exist here), and report PSNR/SSIM of SR vs bicubic
upscaling on held-out (val) pairs in metrics/superres.json.
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
from tinyactions.atomic import write_json
from tinyactions.video import read_video

OUT = Path("models/superres/generator.pth")
METRICS = Path("metrics/superres.json")
HR_ROOT = Path("data/raw/tinyvirat-synth-hr")


def generator_spec(p: dict) -> S.GeneratorSpec:
    return S.GeneratorSpec(mid_channels=P.get(p, "superres.generator.mid_channels", int, minimum=1),
                           propagation_blocks=P.get(p, "superres.generator.propagation_blocks", int, minimum=1),
                           cleaning_blocks=P.get(p, "superres.generator.cleaning_blocks", int, minimum=1))


def load_pairs(index: pd.DataFrame, lr_root: Path, count: int, seed: int) -> list:
    rows = index[~index["flip"] & index["readable"]]
    rows = rows.sample(n=min(count, len(rows)), random_state=seed)
    return [(read_video(lr_root / r.path), read_video(HR_ROOT / r.path)) for r in rows.itertuples()]


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
        log.info("using %s", weights)
        return
    fit = {k: P.get(p, f"superres.fit.{k}", kind, minimum=m) for k, kind, m in (
        ("clips", int, 1), ("iterations", int, 0), ("clip_len", int, 2), ("batch", int, 1), ("lr", float, 0.0),
        ("eval_clips", int, 1), ("seed", int, 0))}
    lr_root = Path(P.get(p, "data.root", str))
    train_pairs = load_pairs(pd.read_parquet("data/prepared/train.parquet"), lr_root, fit["clips"], fit["seed"])
    log.info("fitting on %d clip pairs, %d iterations", len(train_pairs), fit["iterations"])
    start = time.time()
    with tqdm(total=fit["iterations"], desc="fit", unit="it") as bar:
        def step(loss):
            bar.set_postfix(l1=f"{loss:.4f}")
            bar.update(1)
        losses = S.fit(S.start_from_upsampling(net), train_pairs, size, fit["iterations"], clip_len=fit["clip_len"], batch=fit["batch"],
                       lr=fit["lr"], seed=fit["seed"], progress=step)
    S.save_official(net, OUT, {"source": "fit", "generator": asdict(spec), "fit": fit})

    eval_pairs = load_pairs(pd.read_parquet("data/prepared/val.parquet"), lr_root, fit["eval_clips"], fit["seed"])
    upscaler = S.Upscaler(net, size, window=P.get(p, "superres.window", int, minimum=3),
                          overlap=P.get(p, "superres.overlap", int, minimum=0))
    sr = upscaler.upscale([lr for lr, _ in eval_pairs])
    scores = {"sr": {"psnr": [], "ssim": []}, "bicubic": {"psnr": [], "ssim": []}}
    for (lr, hr), out in zip(eval_pairs, sr):
        target = S.resize_frames(hr, size, S.cv2.INTER_AREA)
        base = S.bicubic(lr, size // S.SCALE, size)
        for name, pred in (("sr", out), ("bicubic", base)):
            scores[name]["psnr"].append(S.psnr(pred, target))
            scores[name]["ssim"].append(S.ssim(pred, target))
    summary = {name: {k: float(np.mean(v)) for k, v in d.items()} for name, d in scores.items()}
    summary.update(weights="fit", fitted=True, eval_clips=len(eval_pairs), fit_seconds=round(time.time() - start, 1),
                   final_l1=float(np.mean(losses[-10:])) if losses else None)
    write_json(METRICS, summary)
    log.info("val PSNR: SR %.2f dB vs bicubic %.2f dB; SSIM %.4f vs %.4f", summary["sr"]["psnr"],
             summary["bicubic"]["psnr"], summary["sr"]["ssim"], summary["bicubic"]["ssim"])


if __name__ == "__main__":
    try:
        main()
    except P.ParamError as e:
        sys.exit(f"superres_fit: {e}")
