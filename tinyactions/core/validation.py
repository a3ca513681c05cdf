"""A pydantic validation error as one line that starts with the dotted key of the value at fault, with the
nearest valid key for a typo (``students.ircsn_kd.alhpa: unknown key (did you mean
students.ircsn_kd.alpha?)``): what a person fixing a parameter file needs, and nothing else."""

from __future__ import annotations

import difflib
from typing import Annotated, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError


def one_line(root: type[BaseModel], error: ValidationError) -> str:
    """The message of the first mistake of ``error``, raised validating ``root``."""
    errors = error.errors()
    first_key = _dotted(root, tuple(errors[0]["loc"]))[0]
    deeper = [
        err for err in errors if _dotted(root, tuple(err["loc"]))[0].startswith((first_key + ".", first_key + "["))
    ]
    if deeper:  # a union whose list branch was taken: the element is the mistake
        return _message(root, deeper[0])
    same = [err for err in errors if _dotted(root, tuple(err["loc"]))[0] == first_key]
    if len(same) > 1 and all(err["type"] not in ("missing", "extra_forbidden") for err in same):
        # a union (e.g. 'best' or an epoch number): one line with what each branch accepts
        return (
            f"{first_key}: "
            + " or ".join(err["msg"][0].lower() + err["msg"][1:] for err in same)
            + f", got {same[0]['input']!r}"
        )
    return _message(root, errors[0])


def _unwrap(node):
    """The type under Annotated[...] and Optional[...] (pydantic tags neither in error locations)."""
    while True:
        if get_origin(node) is Annotated:
            node = get_args(node)[0]
        elif _is_union(node) and type(None) in get_args(node) and len(get_args(node)) == 2:
            node = next(a for a in get_args(node) if a is not type(None))
        else:
            return node


def _is_union(node) -> bool:
    return get_origin(node) is Union or type(node).__name__ == "UnionType"


def _is_model(node) -> bool:
    return isinstance(node, type) and issubclass(node, BaseModel)


def _dotted(root: type[BaseModel], loc: tuple) -> tuple[str, object]:
    """The dotted key of a pydantic error location and the type it ends in. Union-branch tags (such as
    ``literal['best']`` or ``list[list[str]]``) select a branch and are left out of the key."""
    node, key = root, ""
    for part in loc:
        node = _unwrap(node)
        if _is_model(node) and isinstance(part, str) and part in node.model_fields:
            key, node = f"{key}.{part}" if key else part, node.model_fields[part].annotation
        elif _is_union(node):
            branches = [_unwrap(a) for a in get_args(node)]
            tag = str(part)
            node = next((b for b in branches if (get_origin(b) or b).__name__.lower() == tag.split("[")[0]), None)
        elif get_origin(node) is dict:
            key, node = f"{key}.{part}", get_args(node)[1]
        elif get_origin(node) is list and isinstance(part, int):
            key, node = f"{key}[{part}]", get_args(node)[0]
        else:
            break
    return key, _unwrap(node)


def _message(root: type[BaseModel], error: dict) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        parent, model = _dotted(root, loc[:-1])
        valid = list(model.model_fields) if _is_model(model) else []
        near = difflib.get_close_matches(str(loc[-1]), valid, n=1)
        key = f"{parent}.{loc[-1]}" if parent else str(loc[-1])
        hint = (
            f" (did you mean {parent + '.' if parent else ''}{near[0]}?)"
            if near
            else f" (valid: {', '.join(valid)})"
            if valid
            else ""
        )
        return f"{key}: unknown key{hint}"
    key, _ = _dotted(root, loc)
    if error["type"] == "missing":
        return f"{key}: missing from params.yaml"
    message, value = error["msg"], error["input"]
    hint = ""
    if error["type"] == "float_type" and isinstance(value, str):
        try:
            float(value)
            hint = " (YAML reads a number without a dot, such as 1e-4, as text: write 1.0e-4)"
        except ValueError:
            pass
    return f"{key}: {message[0].lower()}{message[1:]}, got {value!r}{hint}"
