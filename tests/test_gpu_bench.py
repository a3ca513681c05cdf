"""The GPU bench's preparation, checked on the CPU: its wheels (for Python 3.12, no index) are what
bench/gpu/wheels.txt pins, and the bench runs end to end (--dry-run, toy sizes) in an interpreter that
sees only torch, numpy 2, the GPU image's packages and the unpacked wheels, as on the GPU machine."""

import json
import re

import pytest

from tests.gpu_image import HERE, ROOT, pinned, prepare, run_as_on_the_gpu_machine


@pytest.mark.slow
def test_the_carried_wheels_are_the_pins_for_python_3_12_and_fit_a_call():
    prepare()  # the GPU machine's set: CPython 3.12
    wheels = sorted(p.name for p in (ROOT / ".gpu-wheels").glob("*.whl"))
    pins = pinned("wheels.txt")
    for name, version in pins:  # every pin, at its version, built for CPython 3.12 or pure
        stem = name.replace("-", "_").replace(".", "_").lower()
        found = [w for w in wheels if w.lower().replace(".", "_").startswith(f"{stem}-{version.replace('.', '_')}-")]
        assert len(found) == 1 and ("-cp312-" in found[0] or "-abi3-" in found[0] or "-none-" in found[0]), (
            name,
            wheels,
        )
    assert len(wheels) == len(pins)
    carried = sum(p.stat().st_size for p in (ROOT / ".gpu-wheels").glob("*.whl"))
    assert carried < 48 * 2**20, f"{carried / 2**20:.0f} MiB: a device call carries 64 MiB with the project"
    assert not {n.lower() for n, _ in pins} & {n.lower() for n, _ in pinned("image.txt")}, "the image has it"


@pytest.mark.slow
def test_gpu_bench_runs_with_only_torch_numpy_the_image_and_its_wheels(tmp_path, gpu_image):
    # the same pins for this interpreter (its compiled wheels differ), run as the GPU machine would
    prepare(HERE, str(tmp_path / "wheels"))
    run = run_as_on_the_gpu_machine(
        gpu_image,
        tmp_path,
        "bench/gpu_bench.py",
        "--dry-run",
        "--out",
        str(tmp_path / "r.json"),
        "--wheels",
        str(tmp_path / "wheels"),
        "--site",
        str(tmp_path / "unpacked"),
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert re.search(r"numpy 2\.\d+", run.stdout) and f"{len(pinned('wheels.txt'))} wheels" in run.stdout, run.stdout[
        :500
    ]
    rows = json.loads((tmp_path / "r.json").read_text())["rows"]
    assert [(r["what"], r["precision"]) for r in rows] == [
        ("realbasicvsr forward", p) for _ in (1, 2) for p in ("fp32", "bf16")
    ] + [(f"{b} train step 32 px", p) for b in ("ircsn", "uniformer") for p in ("fp32", "bf16")]
    assert all(r.get("frames_per_s", r.get("clips_per_s", 0)) > 0 for r in rows)
