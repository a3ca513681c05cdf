"""Groups of mutually exclusive classes (``postprocess.groups``) checked against the class map: the settings
check, evaluate and a bundle's schema read them through here; post-processing applies them. Kept apart from
post-processing so that the settings schema, which every stage reads, does not depend on it."""

from __future__ import annotations

from tinyactions.challenge.annotations import CLASSES


def validate_groups(groups: list[list[str]]) -> list[list[int]]:
    """Class indexes of each group; unknown names and overlapping groups are errors."""
    index = {c: i for i, c in enumerate(CLASSES)}
    seen: set[str] = set()
    out = []
    for g in groups:
        unknown = [c for c in g if c not in index]
        if unknown:
            raise ValueError(f"postprocess group {g}: unknown classes {unknown}")
        if seen & set(g):
            raise ValueError(f"postprocess group {g} overlaps another group on {sorted(seen & set(g))}")
        if len(g) < 2:
            raise ValueError(f"postprocess group {g} needs at least two classes")
        seen.update(g)
        out.append([index[c] for c in g])
    return out
