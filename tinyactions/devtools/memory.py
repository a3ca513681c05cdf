"""Peak memory of a process tree, per process, with each process's stage and role.

A pipeline run is many processes: ``dvc repro`` starts one per stage, a training stage relaunches itself
under torchrun (one rank per device), each rank starts data-loading workers. Whether the paper
configuration fits a machine is a question about every one of them, so ``TreeWatch`` samples the RSS of
the whole tree in a background thread and keeps, per process, its peak, when it was seen, the stage it
belongs to (the ``python -m stages.<name> [arg]`` command above it) and its role (stage, launcher, rank,
forkserver, data worker).

A process that runs a program (``subprocess``, a compiler probe) is first a copy of its parent, with the
parent's command line and, in RSS, the parent's pages, until it execs. Caught in that instant it would
look like a forked data worker as large as its parent; a copy seen in one sample only is therefore role
``exec``, not ``worker`` (data workers live for an epoch and are sampled many times).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import asdict, dataclass

import psutil

GIB = 1024**3
_STAGE = re.compile(r"-m stages\.(\w+)(?: (\S+))?")


@dataclass
class Proc:
    pid: int
    ppid: int
    stage: str  # "train ircsn_lr", "superres", ... ("" outside any stage)
    role: str  # stage | launcher | rank | forkserver | worker | exec | other
    cmdline: str = ""
    peak_rss: int = 0
    samples: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0


def _stage_of(cmdline: str) -> str | None:
    m = _STAGE.search(cmdline)
    return None if m is None else " ".join(x for x in m.groups() if x)


def _role(cmdline: str, parent: Proc | None) -> str:
    if parent is not None and (parent.role == "forkserver" or cmdline == parent.cmdline):
        return "worker"  # a data-loading or decoding process (started by the forkserver, or forked)
    if "multiprocessing.forkserver" in cmdline:
        return "forkserver"
    if "torch.distributed.run" in cmdline:
        return "launcher"
    if parent is not None and parent.role == "launcher":
        return "rank"
    return "stage" if _stage_of(cmdline) else "other"


def _created(proc: psutil.Process) -> float:
    try:
        return proc.create_time()
    except psutil.Error:
        return float("inf")


class TreeWatch:
    """Sample every ``interval`` seconds the RSS of ``root_pid`` and all its descendants.

    Use as a context manager around the run; ``procs`` maps pid -> Proc afterwards."""

    def __init__(self, root_pid: int, interval: float = 0.2):
        self.root = psutil.Process(root_pid)
        self.interval = interval
        self.procs: dict[int, Proc] = {}
        self.peak_total = 0  # the highest sum of RSS over the processes alive at one sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.started = time.monotonic()

    def __enter__(self) -> "TreeWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.settle()

    def settle(self) -> None:
        """Roles that only the whole run can tell: a copy of its parent seen once was about to exec."""
        for p in self.procs.values():
            parent = self.procs.get(p.ppid)
            if p.role == "worker" and p.samples == 1 and parent is not None and p.cmdline == parent.cmdline:
                p.role = "exec"

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def _register(self, proc: psutil.Process, now: float) -> Proc | None:
        try:
            cmdline, ppid = " ".join(proc.cmdline()), proc.ppid()
            parent = self.procs.get(ppid)
        except psutil.Error:
            return None
        known = self.procs.get(proc.pid)
        if known is not None:
            if cmdline and known.cmdline != cmdline:  # exec'd in place (a training stage becomes torchrun)
                known.cmdline, known.role, known.peak_rss, known.samples = cmdline, _role(cmdline, parent), 0, 0
            return known
        stage = _stage_of(cmdline) or (parent.stage if parent is not None else "")
        entry = Proc(proc.pid, ppid, stage, _role(cmdline, parent), cmdline=cmdline, first_seen=now)
        self.procs[proc.pid] = entry
        return entry

    def sample(self) -> None:
        now = time.monotonic() - self.started
        try:
            tree = [self.root] + self.root.children(recursive=True)
        except psutil.Error:
            return
        total = 0
        for proc in sorted(tree, key=_created):  # parents first: a role depends on the parent's
            entry = self._register(proc, now)
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            if entry is not None:
                entry.peak_rss = max(entry.peak_rss, rss)
                entry.last_seen = now
                entry.samples += 1
        self.peak_total = max(self.peak_total, total)

    def by_stage(self) -> dict[str, dict]:
        """Per stage: wall seconds (first to last sample of its processes) and peak RSS (GiB) per role."""
        out: dict[str, dict] = {}
        for p in self.procs.values():
            if not p.stage:
                continue
            s = out.setdefault(p.stage, {"start": p.first_seen, "end": p.last_seen, "peak_gib": {}})
            s["start"], s["end"] = min(s["start"], p.first_seen), max(s["end"], p.last_seen)
            s["peak_gib"][p.role] = max(s["peak_gib"].get(p.role, 0.0), round(p.peak_rss / GIB, 2))
        for s in out.values():
            s["seconds"] = round(s.pop("end") - s["start"], 1)
            s["start"] = round(s["start"], 1)
        return dict(sorted(out.items(), key=lambda kv: kv[1]["start"]))

    def records(self) -> list[dict]:
        return [asdict(p) for p in sorted(self.procs.values(), key=lambda p: p.first_seen)]

    def peak(self, role: str) -> int:
        """The highest RSS (bytes) any process of ``role`` reached."""
        return max((p.peak_rss for p in self.procs.values() if p.role == role), default=0)
