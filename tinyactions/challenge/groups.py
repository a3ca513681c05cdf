"""Groups of mutually exclusive classes (``postprocess.groups``) checked against the class map: a statement
about the label space, which the post-processing settings, evaluate and a bundle's schema read through here
and post-processing applies."""

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


def seen_together(cooccurrence, groups: list[list[str]]) -> dict[str, int]:
    """Pairs of a group that share training videos (``cooccurrence``: videos per pair of classes, a
    DataFrame indexed by class): ``"a & b"`` -> how many. A group the data contradicts shows here."""
    found = {}
    for group in groups:
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if cooccurrence.loc[a, b] > 0:
                    found[f"{a} & {b}"] = int(cooccurrence.loc[a, b])
    return found
