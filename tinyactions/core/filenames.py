"""File names from elsewhere as text. POSIX names are bytes: one that is not UTF-8 (a file named on
another system) reaches Python with lone surrogates (PEP 383), and so can a JSON string's escape. C
libraries crash or refuse such a name, and parquet and UTF-8 files cannot hold it."""

from __future__ import annotations

import re


def is_text(value: str) -> bool:
    """Whether ``value`` is valid text (UTF-8 encodable: no lone surrogate)."""
    try:
        value.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def escaped(value: str) -> str:
    """``value`` as UTF-8 text that ``unescaped`` turns back into it, for tables people and tools read: a
    backslash is written ``\\\\``, a byte of a name that is not UTF-8 (a lone surrogate U+DC80..U+DCFF,
    PEP 383) ``\\xNN``, any other lone surrogate ``\\uXXXX``; every other character as it is, so a name
    without these is written unchanged."""
    if "\\" not in value and is_text(value):
        return value
    return "".join(_escape(c) for c in value)


def _escape(c: str) -> str:
    code = ord(c)
    if c == "\\":
        return "\\\\"
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:
        return f"\\u{code:04x}"
    return c


_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")


def unescaped(text: str) -> str:
    """The name ``escaped`` wrote (``os.fsencode`` of it: the file name's own bytes)."""

    def one(found: re.Match) -> str:
        code = found[1]
        if code == "\\":
            return "\\"
        return chr(0xDC00 + int(code[1:], 16)) if code[0] == "x" else chr(int(code[1:], 16))

    return _ESCAPE.sub(one, text)


def as_text(value: str) -> str:
    """``value`` as storable text, a lone surrogate shown as its escape (``\\udce9``)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")
