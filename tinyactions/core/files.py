"""Files: atomic writes (a reader, or an interrupted stage, never sees a half-written output) and
content digests (the identity of an input in manifests, caches and fingerprints)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import socket
from pathlib import Path

# A temporary file's name: ``.tmp-<host>-<pid>-<random><suffix>``, ASCII whatever the final name (C
# libraries that write through it, OpenCV's, crash on names that are not UTF-8), and saying which
# process made it, so that one killed before its rename is recognised and removed (remove_orphans).
_TEMPORARY = re.compile(r"^\.tmp-(?P<host>[A-Za-z0-9.-]*)-(?P<pid>[0-9]+)-[0-9a-f]{12}(\.[A-Za-z0-9]+)?$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "", socket.gethostname())[:64]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp"):
    """Yield a temporary path beside ``path`` (ending in ``suffix``: writers that choose a format by
    name see the right one); on success it replaces ``path`` in one rename. The file is created with
    the mode of any new file (umask applies; mkstemp's would be private)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".tmp-{_host()}-{os.getpid()}-{secrets.token_hex(6)}{suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_orphans(folder: str | os.PathLike, recursive: bool = False) -> int:
    """Remove the temporary files that processes of this host killed before their rename left in
    ``folder`` (those of live processes, and of other hosts sharing the folder, stay). Returns how
    many went."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed, host = 0, _host()
    for path in folder.rglob(".tmp-*") if recursive else folder.glob(".tmp-*"):
        found = _TEMPORARY.match(path.name)
        if found and found["host"] == host and not _alive(int(found["pid"])) and path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json(path: str | os.PathLike, data) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_table(path: str | os.PathLike, frame) -> None:
    """pandas DataFrame to parquet, csv or tsv by suffix."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        elif path.suffix in (".csv", ".tsv"):
            frame.to_csv(tmp, index=False, sep="\t" if path.suffix == ".tsv" else ",")
        else:
            raise ValueError(f"{path}: unsupported table format")


FICLONE = 0x40049409  # Linux's ioctl that makes a file share another's blocks copy-on-write


def copy_file(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """``dst`` as a file of its own with ``src``'s bytes: a clone where the file system has them (no data
    written), else a copy; never a second name for the same inode, so damage to one never reaches the other."""
    import fcntl
    import shutil

    with open(src, "rb") as source, open(dst, "wb") as target:
        try:
            fcntl.ioctl(target.fileno(), FICLONE, source.fileno())
            return
        except OSError:
            pass
        shutil.copyfileobj(source, target, 1 << 20)


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
