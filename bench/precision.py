"""fp32 vs bf16 autocast, side by side, for each stage family on this machine's CPU, in one run:

    .venv/bin/python bench/precision.py [--paper]

- superres: the Upscaler (the superres stage's engine) on TinyVIRAT-like clips, frames/s, and the bf16
  output's max / mean distance to the fp32 output in grey levels;
- scores: a score dump's forward pass (16 segments, batch 8), clips/s and the max score difference;
- train: one optimizer step of the train stage's model (forward, backward, AdamW), clips/s;
- superres_fit: one step of the generator fit (L1, Adam), s/step.

Demo sizes by default (the demo's generator and backbones at the demo's input sizes); --paper adds the
official generator (56 -> 224 px) and the paper backbones at 112 px. Random weights; every timing is
the median of repeats after a warm-up. The CPU's bf16 support is printed (AMX tiles or AVX-512 BF16):
the ratios differ between the two, which is why ``auto`` looks at it (tinyactions.core.precision).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyactions import settings  # noqa: E402
from tinyactions.core import precision as numeric  # noqa: E402
from tinyactions.superres import network, upscale  # noqa: E402

PRECISIONS = ("fp32", "bf16")


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (oneDNN picks and caches its kernels)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def clips(size: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """TinyVIRAT-like content (smooth shapes that move) at the generator's input size."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        n = int(rng.integers(12, 33))
        base = rng.integers(0, 255, (size // 4 + 1, size // 4 + 1, 3), np.uint8)
        frame = upscale.resize_frames(base[None], size)[0]
        out.append(np.stack([np.roll(frame, t, axis=1) for t in range(n)]))
    return out


def bench_superres(spec: dict, out_size: int, count: int, repeats: int) -> None:
    net = network.build_generator(network.GeneratorSpec(**spec))
    data = clips(out_size // 4, count)
    frames = sum(len(c) for c in data)
    outputs, rates = {}, {}
    for p in PRECISIONS:
        up = upscale.Upscaler(net, out_size, window=32, overlap=4, batch=4, input="square", device="cpu", precision=p)
        seconds = timed(lambda: outputs.__setitem__(p, up.upscale(data)), repeats)
        rates[p] = frames / seconds
    diff = np.concatenate(
        [np.abs(a.astype(int) - b.astype(int)).ravel() for a, b in zip(outputs["fp32"], outputs["bf16"])]
    )
    print(
        f"superres {spec} -> {out_size} px: fp32 {rates['fp32']:.1f} frames/s, bf16 {rates['bf16']:.1f} "
        f"frames/s, bf16/fp32 {rates['bf16'] / rates['fp32']:.2f}x; bf16 vs fp32 output: max {diff.max()} "
        f"mean {diff.mean():.3f} grey levels"
    )


def logits_of(model, inputs):
    """The recogniser's 26 logits per clip (backbone, then head), as training and scoring compute them."""
    feats, _ = model.extract_feat(inputs)
    return model.cls_head(feats)


def bench_backbone(spec, batch: int, repeats: int) -> None:
    from tinyactions.train.recipes import model_config
    from tinyactions.train.registry import build_model

    torch.manual_seed(0)
    model = build_model(model_config(spec))
    x = torch.rand(batch, 1, 3, spec.segments, spec.input_size, spec.input_size) * 255
    scores, rates = {}, {}
    model.eval()
    for p in PRECISIONS:

        def forward():
            with torch.no_grad(), numeric.autocast(p, "cpu"):
                data = model.data_preprocessor({"inputs": list(x), "data_samples": None}, training=False)
                scores[p] = logits_of(model, data["inputs"]).float()

        rates[p] = batch / timed(forward, repeats)
    gap = float((torch.sigmoid(scores["fp32"]) - torch.sigmoid(scores["bf16"])).abs().max())
    print(
        f"scores {spec.backbone} ({spec.preset}, {spec.input_size} px): fp32 {rates['fp32']:.1f} clips/s, bf16 "
        f"{rates['bf16']:.1f} clips/s, bf16/fp32 {rates['bf16'] / rates['fp32']:.2f}x; max score difference {gap:.4f}"
    )
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-4)
    labels = torch.zeros(batch, 26)
    labels[:, 0] = 1
    for p in PRECISIONS:

        def step():
            with numeric.autocast(p, "cpu"):
                data = model.data_preprocessor({"inputs": list(x), "data_samples": None}, training=True)
                logits = logits_of(model, data["inputs"])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), labels)
            optim.zero_grad()
            loss.backward()
            optim.step()

        rates[p] = batch / timed(step, repeats)
    print(
        f"train {spec.backbone} ({spec.preset}, {spec.input_size} px, batch {batch}): fp32 {rates['fp32']:.2f} "
        f"clips/s, bf16 {rates['bf16']:.2f} clips/s, bf16/fp32 {rates['bf16'] / rates['fp32']:.2f}x"
    )


def bench_fit(spec: dict, out_size: int, repeats: int) -> None:
    from tinyactions.superres import fit

    pairs = [(c, upscale.resize_frames(c, out_size)) for c in clips(out_size // 4, 8)]
    seconds = {}
    for p in PRECISIONS:
        net = fit.start_from_upsampling(network.build_generator(network.GeneratorSpec(**spec)))
        seconds[p] = (
            timed(lambda: fit.fit(net, pairs, out_size, 2, clip_len=2, batch=8, lr=1e-3, seed=0, precision=p), repeats)
            / 2
        )
    print(
        f"superres_fit {spec}, {out_size} px, batch 8 x 2 frames: fp32 {seconds['fp32']:.3f} s/step, bf16 "
        f"{seconds['bf16']:.3f} s/step, bf16/fp32 {seconds['fp32'] / seconds['bf16']:.2f}x"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--paper", action="store_true", help="also the official generator and the paper backbones")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    s = settings.load(ROOT / "params.yaml")
    print(
        f"CPU: AMX tiles {torch.cpu._is_amx_tile_supported()}, AVX-512 BF16 {torch.cpu._is_avx512_bf16_supported()}, "
        f"{torch.get_num_threads()} threads"
    )
    demo_generator = s.superres.generator.model_dump()
    bench_superres(demo_generator, s.superres.size, 12, args.repeats)
    bench_fit(demo_generator, s.superres.size, args.repeats)
    for name in ("ircsn_lr", "uniformer_lr"):
        bench_backbone(s.run_spec(name), s.train.batch_size, args.repeats)
    if args.paper:
        bench_superres({"mid_channels": 64, "propagation_blocks": 20, "cleaning_blocks": 20}, 224, 2, 1)
        for name in ("ircsn_lr", "uniformer_lr"):
            spec = dataclasses.replace(s.run_spec(name), preset="paper", input_size=112)
            bench_backbone(spec, 2, 1)


if __name__ == "__main__":
    main()
