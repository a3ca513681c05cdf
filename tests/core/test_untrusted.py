"""Files from elsewhere are opened once, must be regular files and are read up to a cap: a named pipe, a
device or a folder in their place is refused at once (never waited on, never read without end)."""

import os
import threading

import pytest

from tinyactions.challenge.annotations import read_json
from tinyactions.core.untrusted import UntrustedFileError, open_regular, read_bytes


def test_a_regular_file_is_read_up_to_its_cap(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes(b"[1, 2]")
    assert read_bytes(path, 6) == b"[1, 2]" and read_json(path) == [1, 2]
    with pytest.raises(UntrustedFileError, match=r"a.json: 6 bytes, more than the 5 it may hold$"):
        read_bytes(path, 5)
    with pytest.raises(FileNotFoundError, match=r"nope.json: no such file"):
        read_bytes(tmp_path / "nope.json", 10)


def test_a_pipe_a_device_and_a_folder_are_refused_at_once(tmp_path):
    pipe = tmp_path / "x.json"
    os.mkfifo(pipe)
    done = threading.Event()

    def read():
        with pytest.raises(UntrustedFileError, match=r"x.json: a named pipe, not a regular file"):
            read_json(pipe)
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert done.wait(10), "a named pipe without a writer must not block the reader"
    with pytest.raises(UntrustedFileError, match=r"zero: a character device, not a regular file"):
        read_bytes("/dev/zero", 1024)  # endless: read without a cap it would fill the memory
    with pytest.raises(UntrustedFileError, match=r"a folder, not a regular file"):
        read_bytes(tmp_path, 10)
    link = tmp_path / "endless.json"
    link.symlink_to("/dev/zero")  # a link to an endless device: the target is what counts
    with pytest.raises(ValueError, match=r"endless.json: a character device, not a regular file"):
        read_json(link)


def test_json_numbers_are_json_numbers(tmp_path):
    path = tmp_path / "b.json"
    path.write_text('{"weights": [NaN, 1.0]}')
    with pytest.raises(ValueError, match=r"b.json: NaN is not a JSON number$"):
        read_json(path)
    path.write_text('{"t": -Infinity}')
    with pytest.raises(ValueError, match=r"b.json: -Infinity is not a JSON number$"):
        read_json(path)


def test_the_descriptor_is_the_file_checked(tmp_path):
    path = tmp_path / "c.bin"
    path.write_bytes(b"x" * 10)
    fd = open_regular(path, 10)
    try:
        assert os.read(fd, 100) == b"x" * 10
    finally:
        os.close(fd)
