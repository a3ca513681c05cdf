"""params.yaml: loading and typed access that fails early and names the offending key."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

PARAMS_FILE = Path("params.yaml")
_MISSING = object()


class ParamError(ValueError):
    """A missing or invalid parameter; the message starts with its dotted key."""


def load(path: str | Path = PARAMS_FILE) -> dict:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ParamError(f"{path}: parameter file not found (run from the repository root)") from None
    except yaml.YAMLError as e:
        raise ParamError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ParamError(f"{path}: expected a mapping at the top level")
    return data


def get(params: dict, key: str, kind: type | tuple[type, ...], *, default: Any = _MISSING,
        choices: tuple | None = None, minimum: float | None = None, maximum: float | None = None) -> Any:
    """Value at dotted ``key`` checked for type, choices and range, e.g.
    ``get(p, "synth.videos.train", int, minimum=1)``."""
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            if default is not _MISSING:
                return default
            raise ParamError(f"{key}: missing from params.yaml")
        node = node[part]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds and isinstance(node, int) and not isinstance(node, bool):
        node = float(node)
    if not isinstance(node, kinds) or (isinstance(node, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise ParamError(f"{key}: expected {names}, got {node!r}")
    if choices is not None and node not in choices:
        raise ParamError(f"{key}: {node!r} is not one of {', '.join(map(str, choices))}")
    if minimum is not None and node < minimum:
        raise ParamError(f"{key}: {node!r} is below the minimum {minimum}")
    if maximum is not None and node > maximum:
        raise ParamError(f"{key}: {node!r} is above the maximum {maximum}")
    return node


def setup_logging(stage: str) -> logging.Logger:
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {stage}: %(message)s", datefmt="%H:%M:%S")
    return logging.getLogger(f"tinyactions.{stage}")
