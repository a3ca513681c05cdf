"""GPU bench, prepared to run where only Python 3.12, torch and numpy are installed and no package index
can be reached: the official RealBasicVSR generator's forward pass (batch 1/4/16 clips of 16 frames,
56 -> 224 px) and one training step of each paper backbone at 224 px (ir-CSN-ResNet152, UniFormer-B;
16 frames, batch 8 = the paper profile's clips per GPU), each in fp32 and bf16 autocast, with peak GPU
memory. On this project's machines first:

    bash bench/gpu/prepare.sh                       # wheels -> .gpu-wheels/ (git-ignored, 23 MB)
    .venv/bin/python bench/gpu_bench.py --dry-run --no-wheels   # the same code on the CPU at toy sizes

then on the GPU machine, with .gpu-wheels carried: ``python3 bench/gpu_bench.py [--out results.json]``.
The wheels are unpacked into .gpu-site/ (plain zip extraction, no pip) and put first on sys.path. The
networks are the model-zoo configs inside the mmaction2 and mmagic wheels (``tinyactions.devtools.zoo``), built
through the registries. mmagic's ``models`` package imports every editor (diffusers, transformers):
only the modules RealBasicVSRNet is made of are loaded, under their real names, with the package
``__init__`` files of ``mmagic.models`` skipped. Budget: well under 8 minutes on one recent GPU
(warm-up 2, then 5 timed repeats per row).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / ".gpu-wheels"
SITE = ROOT / ".gpu-site"


def unpack(wheels: Path, site: Path) -> list[str]:
    """Extract every wheel of ``wheels`` into ``site`` once (a stamp lists what was unpacked)."""
    names = sorted(p.name for p in wheels.glob("*.whl"))
    if not names:
        raise SystemExit(f"{wheels}: no wheels; run `bash bench/gpu/prepare.sh` first")
    stamp = site / ".unpacked"
    if not (stamp.is_file() and stamp.read_text().split() == names):
        shutil.rmtree(site, ignore_errors=True)
        site.mkdir(parents=True)
        for name in names:
            with zipfile.ZipFile(wheels / name) as archive:
                archive.extractall(site)
        stamp.write_text("\n".join(names) + "\n")
    return names


def networks(dry_run: bool):
    """(generator, {backbone name: recognizer}) from the model-zoo configs, paper sizes."""
    import torch
    from mmengine.registry import DefaultScope

    from tinyactions.core import compat
    from tinyactions.devtools import zoo  # noqa: F401  (compat: mmaction2's missing drn module)

    # isort: split
    import mmaction.models  # noqa: F401  (registrations)
    from mmaction.registry import MODELS as ACTION_MODELS

    compat.register_realbasicvsr()
    from mmagic.registry import MODELS as MAGIC_MODELS

    torch.manual_seed(0)
    generator_cfg = zoo.model_config("realbasicvsr")["generator"]
    if dry_run:
        generator_cfg.update(mid_channels=8, num_propagation_blocks=1, num_cleaning_blocks=1)
    with DefaultScope.overwrite_default_scope("mmagic"):
        generator = MAGIC_MODELS.build(generator_cfg)
    recognizers = {}
    for name in ("ircsn", "uniformer"):
        cfg = zoo.model_config(name)
        cfg["cls_head"].update(num_classes=26)
        if dry_run and name == "ircsn":
            cfg["backbone"].update(depth=50, base_channels=8)
            cfg["cls_head"].update(in_channels=256)
        if dry_run and name == "uniformer":
            cfg["backbone"].update(depth=[1, 1, 1, 1], embed_dim=[16, 32, 64, 128], head_dim=16)
            cfg["cls_head"].update(in_channels=128)
        with DefaultScope.overwrite_default_scope("mmaction"):
            recognizers[name] = ACTION_MODELS.build(cfg)
    return generator, recognizers


def measure(fn, device, warmup: int, repeats: int) -> tuple[float, float]:
    """(median seconds per call, peak memory in GB on a CUDA device, else 0)."""
    import torch

    for _ in range(warmup):
        fn()
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 1e9 if cuda else 0.0
    return sorted(times)[len(times) // 2], peak


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dry-run", action="store_true", help="CPU, toy sizes: checks that everything imports and runs")
    ap.add_argument("--out", help="also write the rows as JSON here")
    ap.add_argument("--wheels", type=Path, default=WHEELS, help="folder of wheels (bench/gpu/prepare.sh)")
    ap.add_argument("--site", type=Path, default=SITE, help="where they are unpacked")
    ap.add_argument("--no-wheels", action="store_true", help="use this interpreter's packages (the project's venv)")
    args = ap.parse_args()
    wheels = [] if args.no_wheels else unpack(args.wheels, args.site)
    sys.path[:0] = [*([] if args.no_wheels else [str(args.site)]), str(ROOT)]
    import torch

    from tinyactions.core import precision as numeric

    device = torch.device("cpu" if args.dry_run or not torch.cuda.is_available() else "cuda")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    import numpy

    print(
        f"device {name}, torch {torch.__version__}, numpy {numpy.__version__}, python {sys.version.split()[0]}, "
        f"{len(wheels)} wheels"
    )
    generator, recognizers = networks(args.dry_run)
    size, frames, clips_per_gpu = (8, 4, 1) if args.dry_run else (56, 16, 8)
    input_size = 32 if args.dry_run else 224
    warmup, repeats = (1, 1) if args.dry_run else (2, 5)
    precisions = ("fp32", "bf16")
    rows = []

    generator = generator.to(device, memory_format=torch.channels_last).eval()
    for batch in (1, 2) if args.dry_run else (1, 4, 16):
        x = torch.rand(batch, frames, 3, size, size, device=device)
        for p in precisions:

            def forward():
                with torch.no_grad(), numeric.autocast(p, device):
                    generator(x)

            seconds, peak = measure(forward, device, warmup, repeats)
            rows.append(
                {
                    "what": "realbasicvsr forward",
                    "batch": batch,
                    "precision": p,
                    "frames_per_s": batch * frames / seconds,
                    "peak_gb": peak,
                }
            )
            print(rows[-1], flush=True)
    generator.cpu()

    for backbone, model in recognizers.items():
        model = model.to(device).train()
        optim = torch.optim.AdamW(model.parameters(), lr=1e-4)
        x = torch.rand(clips_per_gpu, 3, 16 if not args.dry_run else frames, input_size, input_size, device=device)
        target = torch.zeros(clips_per_gpu, 26, device=device)
        target[:, 0] = 1
        for p in precisions:

            def step():
                with numeric.autocast(p, device):
                    feats = model.extract_feat(x[:, None])[0]  # (clips, views=1, C, T, H, W)
                    logits = model.cls_head(feats)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), target)
                optim.zero_grad(set_to_none=True)
                loss.backward()
                optim.step()

            seconds, peak = measure(step, device, warmup, repeats)
            rows.append(
                {
                    "what": f"{backbone} train step {input_size} px",
                    "batch": clips_per_gpu,
                    "precision": p,
                    "clips_per_s": clips_per_gpu / seconds,
                    "peak_gb": peak,
                }
            )
            print(rows[-1], flush=True)
        model.cpu()

    print("| what | batch | precision | rate | peak GPU memory |\n|---|---|---|---|---|")
    for r in rows:
        rate = f"{r['frames_per_s']:.1f} frames/s" if "frames_per_s" in r else f"{r['clips_per_s']:.2f} clips/s"
        print(f"| {r['what']} | {r['batch']} | {r['precision']} | {rate} | {r['peak_gb']:.2f} GB |")
    if args.out:
        Path(args.out).write_text(json.dumps({"device": name, "torch": torch.__version__, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
