"""File names from elsewhere as text. POSIX names are bytes: one that is not UTF-8 (a file named on
another system) reaches Python with lone surrogates (PEP 383), and so can a JSON string's escape. C
libraries crash or refuse such a name, and parquet and UTF-8 files cannot hold it."""

from __future__ import annotations


def is_text(value: str) -> bool:
    """Whether ``value`` is valid text (UTF-8 encodable: no lone surrogate)."""
    try:
        value.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def as_written(value: str) -> str:
    """``value`` as a UTF-8 file written with ``errors="surrogateescape"`` holds it: a file name's own
    bytes where it has them (a name that is not UTF-8), the escape of any other lone surrogate (JSON can
    carry one that no file name has)."""
    try:
        value.encode("utf-8", "surrogateescape")
        return value
    except UnicodeEncodeError:
        return as_text(value)


def as_text(value: str) -> str:
    """``value`` as storable text, a lone surrogate shown as its escape (``\\udce9``)."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")
