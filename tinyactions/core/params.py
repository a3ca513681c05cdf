"""Reading params.yaml by section: the base models every phase's settings are made of.

Each phase owns the models of the sections it reads (``tinyactions/<phase>/settings.py``); a stage declares
the sections it reads as a :class:`Reads` and ``load`` validates only those, so a stage depends on the code
of the settings it reads and on nothing of a later phase. Rules across sections are checked once, by the
composer (``tinyactions.settings``), which only the ``validate`` stage runs. Every mistake is one line
that starts with its dotted key: ``students.ircsn_kd.alhpa: unknown key (did you mean
students.ircsn_kd.alpha?)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tinyactions.core.errors import SettingsError
from tinyactions.core.validation import one_line

Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Rate = Annotated[float, Field(ge=0.0)]


def fail(key: str, message: str):
    raise SettingsError(f"{key}: {message}")


class Section(BaseModel):
    """A section of params.yaml (or a part of one): strict types, no unknown key, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    def check(self, key: str) -> None:
        """Rules across this section's own keys (``key``: its dotted key, for the message); types and ranges
        are the fields'. ``Reads`` runs it for every top-level section and every entry of a dict-valued one
        (runs, students); a section nested inside another is checked by its parent's ``check``."""


class View(Section):
    """Some keys of a section: what a stage reads of it, with the section's types; the section's other keys
    are left to the stages that read them (the full section's model extends the view)."""

    model_config = ConfigDict(extra="ignore")


class Reads(BaseModel):
    """The top-level sections of params.yaml one stage reads: ``load`` validates those, each by its phase's
    model, and runs each section's own ``check``; the other sections are left to the stages that read them."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True, allow_inf_nan=False)

    @classmethod
    def parse(cls, data: object, source: str = "params.yaml") -> Self:
        """The sections of ``data`` (the parsed YAML of a params file); SettingsError naming the first bad key."""
        if not isinstance(data, dict):
            raise SettingsError(f"{source}: expected a mapping at the top level")
        try:
            reads = cls.model_validate(data)
        except ValidationError as e:
            raise SettingsError(one_line(cls, e)) from None
        for key in cls.model_fields:
            value = getattr(reads, key)
            for name, section in value.items() if isinstance(value, dict) else [(None, value)]:
                if isinstance(section, Section):
                    section.check(key if name is None else f"{key}.{name}")
        reads.check()
        return reads

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """The sections of the params file at ``path``."""
        return cls.parse(read(path), str(path))

    def check(self) -> None:
        """Rules across the sections this model holds (the composer's; a stage's reads have none)."""


def read(path: str | Path) -> object:
    """The parsed YAML of a params file; SettingsError of one line when it is missing or not YAML."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: parameter file not found (run from the repository root)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SettingsError(f"{path}: cannot be read: {e}") from None
    except yaml.YAMLError as e:
        raise SettingsError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
