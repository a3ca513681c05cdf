"""The GPU machine's Python, imitated on this CPU for the dry runs of bench/gpu_bench.py and
bench/gpu_check.py: an interpreter started with -S that sees torch (linked from this environment), numpy 2
and the packages of the GPU image (bench/gpu/image.txt, fetched for this interpreter), and nothing else;
the scripts bring the rest as the wheels of bench/gpu/wheels.txt, as on the GPU machine."""

import importlib.metadata as md
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"


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


def prepare(*args: str) -> None:
    """bench/gpu/prepare.sh with ``args`` (python version, folder, list)."""
    prepared = subprocess.run(
        ["bash", "bench/gpu/prepare.sh", *args], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert prepared.returncode == 0, prepared.stdout[-2000:] + prepared.stderr[-2000:]


def pinned(listing: str) -> list[tuple[str, str]]:
    """(name, version) of every pin of a bench/gpu list."""
    lines = (ROOT / "bench/gpu" / listing).read_text().splitlines()
    return [tuple(line.split("==")) for line in lines if line and not line.startswith("#")]


def image_site(folder: Path) -> Path:
    """A folder of links to torch and what torch needs, nothing else of this environment, plus numpy 2 and
    the image's packages unpacked (this environment pins numpy < 2 for mmagic's editors)."""
    folder.mkdir(parents=True)
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
    prepare(HERE, str(folder.parent / "image-wheels"), "bench/gpu/image.txt")
    for wheel in [*(folder.parent / "numpy2").glob("numpy-2*.whl"), *(folder.parent / "image-wheels").glob("*.whl")]:
        with zipfile.ZipFile(wheel) as archive:
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


def run_as_on_the_gpu_machine(
    site: Path, home: Path, script: str, *args: str, timeout: int
) -> subprocess.CompletedProcess:
    """``script`` under -S with only ``site`` on the path (and the wheels it unpacks itself)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-S", script, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
