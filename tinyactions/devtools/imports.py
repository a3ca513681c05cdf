"""The project modules a module imports, transitively (function-level imports included: they run too;
``if TYPE_CHECKING:`` blocks left out: they never run). What dvc.yaml lists as a stage's code deps, and
what the architecture tests read the layers from."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
PACKAGES = ("tinyactions", "stages")


def _module_file(name: str, root: Path | None = None) -> Path | None:
    path = (root or ROOT) / Path(*name.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def direct_imports(path: Path, root: Path | None = None) -> set[str]:
    """Dotted names of the project modules ``path`` imports."""
    root = root or ROOT
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    for node in ast.walk(tree):  # drop the bodies of `if TYPE_CHECKING:` (annotations only)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES and _module_file(name, root):
                found.add(name)
    return found


def closure(module: str, root: Path | None = None) -> list[str]:
    """Repository-relative files of ``module`` and every project module it imports, transitively."""
    root = root or ROOT
    todo, seen = [module], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += direct_imports(_module_file(name, root), root)
    return sorted(str(_module_file(n, root).relative_to(root)) for n in seen)
