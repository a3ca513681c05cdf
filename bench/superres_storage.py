"""Super-resolution input (native vs square) and storage (mp4v vs lossless ffv1), on the demo's held-out clips.

    PATH=$PWD/.venv/bin:$PATH python bench/superres_storage.py      # after `dvc repro superres_fit`

For each input mode: PSNR/SSIM of the fitted generator and of bicubic upscaling against the clean
renders, as computed and after each storage round trip (write + decode, what training reads); the
upscaling time; and the bytes and write time of each codec on the same outputs. Peers in the same run:
bicubic for quality, mp4v for disk and time, square input for the upscaling time.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tinyactions import settings  # noqa: E402
from tinyactions.core.paths import REPO  # noqa: E402
from tinyactions.data.video import write_video  # noqa: E402
from tinyactions.superres import fit, network, upscale  # noqa: E402


def main() -> None:
    s = settings.load()
    sr = s.superres
    net = network.build_generator(network.GeneratorSpec(**sr.generator.model_dump()))
    network.load_official(net, REPO.generator, key=str(REPO.generator))
    clips = fit.sample_clips(REPO.index("val"), sr.fit.eval_clips, sr.fit.seed)
    pairs = fit.load_pairs(clips, s.data.root, REPO.synth_hr)
    print(
        f"{len(pairs)} held-out val clips, LR {min(p[0].shape[1] for p in pairs)}-"
        f"{max(p[0].shape[1] for p in pairs)} px "
        f"-> {sr.size} px"
    )
    seconds = {}
    for mode in ("square", "native"):
        up = upscale.Upscaler(
            net,
            sr.size,
            window=sr.window,
            overlap=sr.overlap,
            batch=s.execution.superres_batch,
            input=mode,
            device="cpu",
            precision=sr.precision,
        )
        start = time.perf_counter()
        outputs = up.upscale([lr for lr, _ in pairs])
        seconds[mode] = time.perf_counter() - start
        for codec in ("mp4v", "ffv1"):
            t = fit.compare_with_bicubic(up, pairs, clips, codec)
            print(
                f"input {mode:6} storage {codec}: PSNR SR {t.psnr_sr.mean():.2f} "
                f"vs bicubic {t.psnr_bicubic.mean():.2f} "
                f"dB (gain {(t.psnr_sr - t.psnr_bicubic).mean():+.2f}); stored {t.psnr_sr_stored.mean():.2f} vs "
                f"{t.psnr_bicubic_stored.mean():.2f} dB "
                f"(gain {(t.psnr_sr_stored - t.psnr_bicubic_stored).mean():+.2f}, "
                f"SR better on {(t.psnr_sr_stored > t.psnr_bicubic_stored).sum()}/{len(t)}); "
                f"SSIM SR {t.ssim_sr.mean():.4f} vs {t.ssim_bicubic.mean():.4f}, "
                f"stored {t.ssim_sr_stored.mean():.4f} vs {t.ssim_bicubic_stored.mean():.4f}"
            )
        if mode == "square":
            with tempfile.TemporaryDirectory() as tmp:
                size, spent = {}, {}
                for codec in ("mp4v", "ffv1"):
                    start = time.perf_counter()
                    for i, frames in enumerate(outputs):
                        write_video(Path(tmp) / f"{codec}{i}.mp4", frames, codec=codec)
                    spent[codec] = time.perf_counter() - start
                    size[codec] = sum(f.stat().st_size for f in Path(tmp).glob(f"{codec}*.mp4"))
                print(
                    f"storage of {len(outputs)} SR clips: mp4v {size['mp4v'] / 1e6:.2f} MB in {spent['mp4v']:.2f} s, "
                    f"ffv1 {size['ffv1'] / 1e6:.2f} MB in {spent['ffv1']:.2f} s: ffv1/mp4v disk "
                    f"{size['ffv1'] / size['mp4v']:.2f}x, write time {spent['ffv1'] / spent['mp4v']:.2f}x"
                )
    print(
        f"upscaling time native / square: {seconds['native'] / seconds['square']:.2f} "
        f"({seconds['native']:.1f} s vs {seconds['square']:.1f} s)"
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
