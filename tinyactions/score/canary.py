"""Canary clips: a few fixed generated clips every checkpoint scores when it is dumped, so that applying
it later can tell whether the code and libraries that score still give the same scores.

A bundle fitted on dumped scores is only right for new videos while the clip transform, the network
code and the libraries under them score as they did at dump time; nothing else would notice a change.
Each dump stores its checkpoints' scores of these clips (and the versions of the libraries that
compute scores), the bundle carries them per member, and ``predict`` rescores the clips first: beyond
``TOLERANCE`` on the device kind and precision the dumps ran with, it stops and names the member, the
difference and the libraries whose versions changed.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np

# (frames, height, width) of the canary clips: TinyVIRAT-like small sizes and lengths
SHAPES = ((16, 32, 32), (30, 48, 40), (45, 64, 64))
# the largest canary score difference that is rounding: fp32 kernels differ across CPUs by ~1e-6; bf16
# and fp16 keep 8 and 11 bits of mantissa
TOLERANCE = {"fp32": 1e-4, "bf16": 5e-2, "fp16": 2e-2}
# the distributions whose code computes a score from a decoded clip (decord and OpenCV decode files)
LIBRARIES = (
    "torch",
    "numpy",
    "mmaction2",
    "mmengine",
    "mmcv",
    "mmagic",
    "decord",
    "opencv-python-headless",
)


def clips() -> list[np.ndarray]:
    """The canary clips: (T, H, W, 3) uint8 RGB, smooth moving patterns from a fixed seed (numpy's PCG64
    stream and these formulas give the same bytes on every machine)."""
    rng = np.random.default_rng(20221014)
    out = []
    for frames, height, width in SHAPES:
        base, speed = rng.uniform(30, 220, 3), rng.uniform(0.5, 2.0)
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
        clip = np.empty((frames, height, width, 3), np.uint8)
        for t in range(frames):
            wave = 60 * np.sin((xx + speed * t) / width * 2 * np.pi) * np.cos(yy / height * np.pi)
            clip[t] = np.clip(base[None, None, :] + wave[..., None], 0, 255).astype(np.uint8)
        out.append(clip)
    return out


# the distributions that install a library's package: mmcv-lite is mmcv's code without its compiled ops,
# which no score uses (scripts/setup.sh installs it; `--full-ops` installs mmcv)
DISTRIBUTIONS = {"mmcv": ("mmcv", "mmcv-lite")}


def versions() -> dict[str, str]:
    """Installed versions of the libraries of ``LIBRARIES`` (those not installed are left out)."""
    found = {}
    for name in LIBRARIES:
        for distribution in DISTRIBUTIONS.get(name, (name,)):
            try:
                found[name] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def changed_versions(recorded: dict | None, now: dict) -> list[str]:
    """``name a -> b`` for every library whose version differs from the recorded one."""
    recorded = recorded or {}
    return [
        f"{k} {recorded.get(k, '-')} -> {now.get(k, '-')}"
        for k in sorted(set(recorded) | set(now))
        if recorded.get(k) != now.get(k)
    ]
