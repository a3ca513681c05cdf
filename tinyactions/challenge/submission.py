"""The challenge submission: answer.txt, one line per test video in id order, ``{id:05d} b0 ... b25``.

Every test id of the index gets a line; a video without predictions (unreadable) gets all zeros, as the
organisers' baseline writes for videos it could not score.
"""

from __future__ import annotations

import numpy as np

from tinyactions.challenge.annotations import ID, NUM_CLASSES


def format_answer(ids: list[str], predicted: np.ndarray) -> str:
    if len(ids) != len(predicted):
        raise ValueError(f"{len(ids)} test ids but {len(predicted)} prediction rows")
    predicted = np.nan_to_num(np.asarray(predicted, float), nan=0).astype(int)
    if predicted.shape[1:] != (NUM_CLASSES,) or not np.isin(predicted, (0, 1)).all():
        raise ValueError(f"predictions must be 0/1 of shape (videos, {NUM_CLASSES})")
    values = [int(i) if ID.fullmatch(str(i)) else None for i in ids]
    if None in values:
        raise ValueError(f"test id {ids[values.index(None)]!r} is not a string of digits")
    if len(set(values)) != len(values):
        raise ValueError("duplicate test ids (ids are compared by value: '7' and '007' are one video)")
    order = sorted(range(len(ids)), key=values.__getitem__)
    return "".join(f"{values[i]:05d} " + " ".join(map(str, predicted[i])) + "\n" for i in order)


def parse_answer(text: str) -> dict[str, np.ndarray]:
    """Read answer.txt back (for checks): id -> 0/1 vector. Raises on any malformed line."""
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split(" ")
        if (
            len(parts) != NUM_CLASSES + 1
            or not ID.fullmatch(parts[0])
            or len(parts[0]) < 5
            or any(p not in ("0", "1") for p in parts[1:])
        ):
            raise ValueError(f"answer.txt line {n} is malformed: {line!r}")
        out[parts[0]] = np.array(parts[1:], int)
    return out
