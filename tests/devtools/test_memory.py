"""TreeWatch sees every process of a tree with its role and peak RSS; a forkserver child does not carry
its parent's heap while a forked child does (why data workers start from the forkserver)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinyactions.devtools.memory import TreeWatch

MIB = 1024**2
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


CLONES = """
import os, sys
heap = bytearray(300 * 1024 * 1024)  # the parent's heap, which each copy maps until it execs
copies = []
for name in ("runner", "worker"):
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.read(go_r, 1)  # a copy of the parent until the test has sampled it
        if name == "runner":
            os.execv("/bin/true", ["true"])  # runs a program that ends before the next sample
        os._exit(0)
    copies.append((pid, go_w))
for pid, go_w in copies:
    print("sample", flush=True)
    sys.stdin.readline()
    os.write(go_w, b"x")
    os.waitpid(pid, 0)
"""


def test_a_copy_seen_once_before_it_execs_is_not_a_worker(tmp_path):
    """A rank that runs a program is copied first: caught then, the copy has the rank's command line and
    RSS. Seen in one sample it is role ``exec``; a copy seen in several samples is a forked data worker."""
    script = tmp_path / "clones.py"
    script.write_text(CLONES)
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    watch = TreeWatch(proc.pid)
    for _ in range(2):
        assert proc.stdout.readline() == "sample\n"
        watch.sample()  # first: both copies; then: the worker copy only (the runner has exec'd and ended)
        proc.stdin.write("\n")
        proc.stdin.flush()
    assert proc.wait(timeout=30) == 0
    watch.settle()
    copies = sorted((p for p in watch.procs.values() if p.pid != proc.pid), key=lambda p: p.pid)
    assert [(p.role, p.samples) for p in copies] == [("exec", 1), ("worker", 2)]
    assert all(c.peak_rss > 300 * MIB for c in copies)
    assert watch.peak("worker") == copies[1].peak_rss


TRAINER = """
import os, signal, sys, time
import torch
from tinyactions.train.workers import START_METHOD, prepare_forkserver

class Slow(torch.utils.data.Dataset):
    def __len__(self):
        return 100
    def __getitem__(self, i):
        time.sleep(0.2)
        return i

if __name__ == "__main__":
    prepare_forkserver()
    loader = torch.utils.data.DataLoader(Slow(), num_workers=1, multiprocessing_context=START_METHOD)
    for i, _ in enumerate(loader):
        if i == 3:
            print("killing myself", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
"""


def test_data_workers_do_not_outlive_a_killed_trainer(tmp_path):
    """SIGKILL (the OOM killer) gives the trainer no chance to stop its workers: the forkserver dies with it
    and the worker follows, so nothing lingers holding memory or the trainer's output pipe."""
    import psutil

    script = tmp_path / "trainer.py"
    script.write_text(TRAINER)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(root)}
    )
    seen = set()
    with TreeWatch(proc.pid, interval=0.05) as watch:
        out, _ = proc.communicate(timeout=60)  # returns only once every holder of the pipe is gone
        seen = {pid for pid, p in watch.procs.items() if p.role in ("forkserver", "worker")}
    assert "killing myself" in out and proc.returncode == -9
    assert {watch.procs[pid].role for pid in seen} == {"forkserver", "worker"}

    def alive(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    assert not [pid for pid in seen if alive(pid)]
