"""TreeWatch sees every process of a tree with its role and peak RSS; a forkserver child does not carry
its parent's heap while a forked child does (why data workers start from the forkserver)."""
import subprocess
import sys

import pytest

from tinyactions.memory import TreeWatch

MIB = 1024 ** 2
PARENT = """
import multiprocessing as mp, sys, time
def child():
    block = bytearray(60 * 1024 * 1024)  # 60 MiB of the child's own
    time.sleep(1.5)
if __name__ == "__main__":
    heap = bytearray(300 * 1024 * 1024)  # 300 MiB, touched: the parent's heap
    p = mp.get_context(sys.argv[1]).Process(target=child)
    p.start()
    p.join()
"""


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_child_roles_and_peaks(tmp_path, method):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    proc = subprocess.Popen([sys.executable, str(script), method])
    with TreeWatch(proc.pid, interval=0.05) as watch:
        assert proc.wait(timeout=60) == 0
    roles = sorted(p.role for p in watch.procs.values())
    parent = watch.procs[proc.pid]
    assert parent.role == "other" and parent.peak_rss > 300 * MIB
    worker = watch.peak("worker")
    assert worker > 60 * MIB, roles
    if method == "fork":
        assert "forkserver" not in roles and worker > 300 * MIB  # the forked child maps the parent's heap
    else:
        assert "forkserver" in roles and worker < 200 * MIB  # a fresh interpreter + its own 60 MiB
    assert watch.peak_total >= parent.peak_rss
