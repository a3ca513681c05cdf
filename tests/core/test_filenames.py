"""File names as text in tables: escaped to valid UTF-8, and back to the name's own bytes."""

import os

import pytest

from tinyactions.core.filenames import escaped, is_text, unescaped


@pytest.mark.parametrize(
    "name, written",
    [
        ("clips/plain.mp4", "clips/plain.mp4"),  # text without a backslash: unchanged
        ("caméra ☃.mp4", "caméra ☃.mp4"),
        (os.fsdecode(b"cam\xe9ra.mp4"), "cam\\xe9ra.mp4"),  # a Latin-1 name: its byte as \xNN
        (os.fsdecode(b"\xff\xfe.mp4"), "\\xff\\xfe.mp4"),
        ("a\\b.mp4", "a\\\\b.mp4"),  # a backslash is doubled, so that no name reads as an escape
        ("cam\\xe9ra.mp4", "cam\\\\xe9ra.mp4"),  # a valid name that looks like an escape stays that name
        ("\ud800.mp4", "\\ud800.mp4"),  # a lone surrogate JSON can carry and no file name has
    ],
)
def test_a_name_is_written_as_valid_text_and_read_back_to_its_bytes(name, written):
    assert escaped(name) == written and is_text(written)
    assert written.encode("utf-8").decode("utf-8") == written
    assert unescaped(written) == name
    if is_text(name) or all(0xDC80 <= ord(c) <= 0xDCFF or ord(c) < 0xD800 for c in name):
        assert os.fsencode(unescaped(written)) == os.fsencode(name)


def test_every_byte_round_trips():
    """Every single byte, and every byte beside a backslash, comes back: the escape is reversible."""
    for value in range(1, 256):
        for raw in (bytes([value]), b"\\" + bytes([value]), bytes([value]) + b"\\x41"):
            name = os.fsdecode(raw)
            assert is_text(escaped(name)) and os.fsencode(unescaped(escaped(name))) == raw, raw
