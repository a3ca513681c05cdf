"""Super-resolution throughput: the superres stage's engine (tinyactions.superres.process_parallel) in fp32,
in bf16 autocast and in bf16 on 2 worker processes vs mmagic's own VideoRestorationInferencer (what
MMagicInferencer('real_basicvsr') runs, fp32), same clips, same weights, one run.

    bash scripts/setup-bench.sh && .venv-bench/bin/python bench/superres_inferencer.py [--clips 48]
    .venv-bench/bin/python bench/superres_inferencer.py --generator official --clips 12   # 64 ch, 20+20, 224 px

Clips: TinyVIRAT-like mix (20-80 px content, 6-64 frames) written at the generator's input size, so
neither side resizes. Weights: the demo generator (or, with --generator official, the official size at
224 px out) with random initialisation, saved in the official format and loaded by both. Each side runs
in its own process (peak RSS per side); frames/s end to end (decode + network + encode). Outputs are
compared on the network output (uint8) for whole clips.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GENERATORS = {
    "demo": ({"mid_channels": 16, "propagation_blocks": 2, "cleaning_blocks": 2}, 112),
    "official": ({"mid_channels": 64, "propagation_blocks": 20, "cleaning_blocks": 20}, 224),
}
CONFIG = "mmagic/.mim/configs/real_basicvsr/realbasicvsr_c64b20-1x30x8_8xb1-lr5e-5-150k_reds.py"


def peer_inferencer(weights: str, spec: dict):
    import cv2

    import tinyactions.core.compat  # noqa: F401  (before mmagic)

    # isort: split
    import mmagic

    # the inferencer calls cv2.destroyAllWindows() after writing a video, which the headless OpenCV build
    # of this environment does not implement: make it the no-op it is without windows
    cv2.destroyAllWindows = lambda: None
    from mmagic.apis.inferencers.video_restoration_inferencer import VideoRestorationInferencer
    from mmengine.config import Config

    cfg = Config.fromfile(str(Path(mmagic.__file__).parent.parent / CONFIG))
    for key in ("discriminator", "perceptual_loss", "gan_loss"):  # training-only; VGG19 would download
        cfg.model.pop(key, None)
    cfg.model.generator.update(
        mid_channels=spec["mid_channels"],
        num_propagation_blocks=spec["propagation_blocks"],
        num_cleaning_blocks=spec["cleaning_blocks"],
        spynet_pretrained=None,
    )
    return VideoRestorationInferencer(cfg, weights, device="cpu")


def run_side(side: str, clips: list[str], out_dir: str, weights: str, spec: dict, out_size: int) -> dict:
    import torch

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    from tinyactions.data.video import read_video
    from tinyactions.superres import network, upscale

    frames = sum(len(read_video(c)) for c in clips)
    start = time.perf_counter()
    if side.startswith("tinyactions"):  # tinyactions <precision> <workers>
        _, precision, workers = side.split()
        job = upscale.UpscaleJob(
            network.GeneratorSpec(**spec),
            weights,
            out_size,
            window=64,
            overlap=4,
            batch=4,
            input="square",
            precision=precision,
        )
        upscale.process_parallel(
            [(c, f"{out_dir}/{Path(c).name}") for c in clips], job, upscale.devices(int(workers)), "mp4v"
        )
    else:
        inferencer = peer_inferencer(weights, spec)
        for c in clips:
            inferencer(video=c, result_out_dir=f"{out_dir}/{Path(c).name}")
    seconds = time.perf_counter() - start
    return {
        "frames_per_s": frames / seconds,
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def equality(clip: str, weights: str, spec: dict, out_size: int) -> int:
    """Max abs difference (grey levels) between the two network outputs on one whole clip."""
    import torch

    from tinyactions.data.video import read_video
    from tinyactions.superres import network, upscale

    net = network.build_generator(network.GeneratorSpec(**spec))
    network.load_official(net, weights)
    ours = upscale.Upscaler(
        net, out_size, window=64, overlap=4, batch=4, input="square", device="cpu", precision="fp32"
    ).upscale([read_video(clip)])[0]
    inferencer = peer_inferencer(weights, spec)
    with torch.no_grad():
        pred = inferencer.forward(inferencer.preprocess(clip))[0]  # (t, 3, h, w) RGB in [0, 1]
    peer = (pred.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return int(np.abs(ours.astype(int) - peer.astype(int)).max())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--generator", choices=sorted(GENERATORS), default="demo")
    ap.add_argument("--side")
    ap.add_argument("--job")
    args = ap.parse_args()
    if args.side:  # child process
        job = json.loads(Path(args.job).read_text())
        print(
            json.dumps(
                run_side(
                    args.side, job["clips"], job["out"] + "/" + args.side, job["weights"], job["spec"], job["size"]
                )
            )
        )
        return
    from tinyactions.data.video import write_video
    from tinyactions.superres import network, upscale

    spec, size = GENERATORS[args.generator]
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        clips = []
        for i in range(args.clips):  # content of TinyVIRAT-like size, stored at the generator input size
            native = int(rng.integers(20, 81))
            n = int(np.clip(rng.lognormal(np.log(30), 0.5), 6, 64))
            base = rng.integers(0, 255, (1, native, native, 3), np.uint8).repeat(n, 0)
            base = np.stack([np.roll(f, t % 3, axis=1) for t, f in enumerate(base)])  # some motion
            clips.append(f"{tmp}/c{i:03d}.mp4")
            write_video(clips[-1], upscale.resize_frames(base, size // 4))
        network.save_official(network.build_generator(network.GeneratorSpec(**spec)), f"{tmp}/w.pth", {})
        Path(f"{tmp}/job.json").write_text(
            json.dumps({"clips": clips, "out": tmp, "weights": f"{tmp}/w.pth", "spec": spec, "size": size})
        )
        results = {}
        for side in ("mmagic", "tinyactions fp32 1", "tinyactions bf16 1", "tinyactions bf16 2"):
            os.makedirs(f"{tmp}/{side}", exist_ok=True)
            out = subprocess.run(
                [sys.executable, __file__, "--side", side, "--job", f"{tmp}/job.json"], capture_output=True, text=True
            )
            assert out.returncode == 0, out.stderr[-3000:]
            results[side] = json.loads(out.stdout.strip().splitlines()[-1])
        diff = equality(clips[0], f"{tmp}/w.pth", spec, size)
    print(f"generator {args.generator} {spec}, {size} px out, {args.clips} clips")
    peer = results["mmagic"]["frames_per_s"]
    for side, r in results.items():
        label = (
            side if side == "mmagic" else "{} {} ({} worker{})".format(*side.split(), "s" if side[-1] != "1" else "")
        )
        print(
            f"  {label:32s} {r['frames_per_s']:7.1f} frames/s  {r['frames_per_s'] / peer:5.2f}x mmagic  "
            f"peak RSS {r['peak_rss_mb']:7.0f} MB (main process)"
        )
    print(f"max abs difference of network outputs on a whole clip (fp32 vs mmagic): {diff} grey levels")


if __name__ == "__main__":
    main()
