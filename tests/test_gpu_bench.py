"""The GPU bench's preparation, checked on the CPU: its wheels (for Python 3.12, no index) are what
bench/gpu/wheels.txt pins, and the bench runs end to end (--dry-run, toy sizes) in an interpreter that
sees only torch, numpy 2 and the unpacked wheels, as on the GPU machine."""

import importlib.metadata as md
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def distribution_closure(names: list[str]) -> set[str]:
    """The installed distributions ``names`` need, transitively (markers evaluated here)."""
    seen, todo = set(), list(names)
    while todo:
        dist = md.distribution(todo.pop())
        key = dist.metadata["Name"].lower()
        if key in seen:
            continue
        seen.add(key)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                try:
                    md.distribution(req.name)
                except md.PackageNotFoundError:
                    continue
                todo.append(req.name)
    return seen


def torch_only_site(folder: Path) -> Path:
    """A folder of links to torch and what torch needs, nothing else of this environment, plus numpy 2
    (the GPU machine's; this environment pins numpy < 2 for mmagic's editors)."""
    folder.mkdir()
    fetched = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(folder.parent / "numpy2"),
            "numpy>=2,<3",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert fetched.returncode == 0, fetched.stderr[-2000:]
    import zipfile

    with zipfile.ZipFile(next((folder.parent / "numpy2").glob("numpy-2*.whl"))) as archive:
        archive.extractall(folder)
    for name in distribution_closure(["torch"]) - {"numpy"}:
        for file in md.distribution(name).files or []:
            top = file.parts[0]
            source = Path(file.locate()).resolve()
            for _ in file.parts[1:]:
                source = source.parent
            if top not in ("..", "__pycache__") and not (folder / top).exists() and source.exists():
                (folder / top).symlink_to(source)
    return folder


def prepare(*args: str) -> None:
    prepared = subprocess.run(
        ["bash", "bench/gpu/prepare.sh", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert prepared.returncode == 0, prepared.stdout[-2000:] + prepared.stderr[-2000:]


@pytest.mark.slow
def test_gpu_bench_runs_with_only_torch_numpy_and_its_wheels(tmp_path):
    prepare()  # the GPU machine's set: CPython 3.12
    wheels = sorted(p.name for p in (ROOT / ".gpu-wheels").glob("*.whl"))
    pinned = [
        line.split("==")
        for line in (ROOT / "bench/gpu/wheels.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    for name, version in pinned:  # every pin, at its version, built for CPython 3.12 or pure
        stem = name.replace("-", "_").lower()
        found = [w for w in wheels if w.lower().startswith(f"{stem}-{version}-")]
        assert len(found) == 1 and ("-cp312-" in found[0] or "-abi3-" in found[0] or "-none-any" in found[0]), (
            name,
            wheels,
        )
    assert len(wheels) == len(pinned)
    # the same pins for this interpreter (its compiled wheels differ), run as the GPU machine would:
    # -S, no site-packages of this environment; only torch, numpy and what torch needs
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    prepare(here, str(tmp_path / "wheels"))
    site = torch_only_site(tmp_path / "site")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(site)}
    run = subprocess.run(
        [
            sys.executable,
            "-S",
            "bench/gpu_bench.py",
            "--dry-run",
            "--out",
            str(tmp_path / "r.json"),
            "--wheels",
            str(tmp_path / "wheels"),
            "--site",
            str(tmp_path / "unpacked"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert re.search(r"numpy 2\.\d+", run.stdout) and f"{len(pinned)} wheels" in run.stdout, run.stdout[:500]
    import json

    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert [(r["what"], r["precision"]) for r in rows] == [
        ("realbasicvsr forward", p) for _ in (1, 2) for p in ("fp32", "bf16")
    ] + [(f"{b} train step 32 px", p) for b in ("ircsn", "uniformer") for p in ("fp32", "bf16")]
    assert all(r.get("frames_per_s", r.get("clips_per_s", 0)) > 0 for r in rows)
