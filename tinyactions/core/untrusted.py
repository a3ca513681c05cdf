"""Files from elsewhere (annotations, bundles, checkpoints) opened with bounds: a regular file, opened
once, read up to a stated cap. A named pipe, a device or a folder in its place is refused at once (a
pipe is opened without waiting for a writer), and so is a file larger than its cap (read cap + 1 bytes
at most: a file that grows while it is read is refused too), each in one line naming the file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

KIB, MIB, GIB = 2**10, 2**20, 2**30


class UntrustedFileError(ValueError):
    """A file from elsewhere that is not a regular file, or larger than it may be."""


def kind(mode: int) -> str:
    """What a file of ``mode`` is, in words."""
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str | os.PathLike, max_bytes: int) -> int:
    """A descriptor of ``path`` opened for reading once it is a regular file of at most ``max_bytes``;
    FileNotFoundError when it does not exist, UntrustedFileError otherwise."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except OSError as e:
        raise UntrustedFileError(f"{path}: cannot be opened ({e.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UntrustedFileError(f"{path}: {kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise UntrustedFileError(f"{path}: {info.st_size:,} bytes, more than the {max_bytes:,} it may hold")
        os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (see :func:`open_regular`)."""
    fd = open_regular(path, max_bytes)
    with os.fdopen(fd, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UntrustedFileError(f"{path}: more than the {max_bytes:,} bytes it may hold (it grew while read)")
    return data
