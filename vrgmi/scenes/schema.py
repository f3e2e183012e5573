"""Difficulty schemas: the typed, bounded parameters a therapist may change in a scene.

A scene declares ``params = (Param(...), ...)``; the companion builds its controls from
:meth:`Param.describe`, the server and the engine check every value with :meth:`Param.check`,
and ``vrgmi scenes`` prints them. No Panda3D here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from vrgmi.errors import VrgmiError


class SceneParamError(VrgmiError, ValueError):
    """A difficulty value is unknown, of the wrong type or out of bounds."""


def _shown(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters (a huge number cannot even be printed)."""
    try:
        text = repr(value)
    except ValueError:                    # an int past Python's digit limit
        return "<a number too long to show>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


@dataclass(frozen=True)
class Param:
    """One difficulty parameter: ``kind`` is ``"int"``, ``"float"``, ``"bool"`` or ``"choice"``."""

    name: str
    kind: str
    default: Any
    help: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("int", "float", "bool", "choice"):
            raise ValueError(f"param {self.name}: unknown kind {self.kind!r}")
        if self.kind in ("int", "float") and (self.lo is None or self.hi is None):
            raise ValueError(f"param {self.name}: numbers need lo and hi bounds")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"param {self.name}: a choice needs choices")
        self.check(self.default, "default")

    def check(self, value: Any, where: str = "") -> Any:
        """``value`` coerced to this parameter's type, or a one-line :class:`SceneParamError`."""
        label = f"{where + ': ' if where else ''}{self.name} = {_shown(value)}"
        if self.kind == "bool":
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
                return value.lower() in ("true", "1")
            if not isinstance(value, bool):
                raise SceneParamError(f"{label} must be true or false ({self.help})")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise SceneParamError(f"{label} is not one of {', '.join(self.choices)}")
            return value
        try:
            if isinstance(value, bool):
                raise TypeError
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise SceneParamError(f"{label} must be a number ({self.help})") from None
        if not math.isfinite(number):         # NaN, +-inf, 1e999: checked before int()
            raise SceneParamError(f"{label} must be a finite number ({self.help})")
        if self.kind == "int":
            if not number.is_integer():
                raise SceneParamError(f"{label} must be a whole number ({self.help})")
            number = int(number)
        if not self.lo <= number <= self.hi:
            raise SceneParamError(f"{label} is out of range {self.lo:g}..{self.hi:g}"
                                  f"{' ' + self.unit if self.unit else ''} ({self.help})")
        return number

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (what the companion builds a control from)."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "default": self.default,
                               "help": self.help}
        if self.kind in ("int", "float"):
            out.update(lo=self.lo, hi=self.hi, unit=self.unit)
        if self.kind == "choice":
            out["choices"] = list(self.choices)
        return out


class Difficulty:
    """The values in force for one scene run, checked against its schema."""

    def __init__(self, schema: tuple[Param, ...], values: dict[str, Any] | None = None,
                 scene: str = "") -> None:
        self.schema = {p.name: p for p in schema}
        self.scene = scene
        self.values: dict[str, Any] = {p.name: p.default for p in schema}
        for name, value in (values or {}).items():
            self.set(name, value)

    def set(self, name: str, value: Any) -> Any:
        """Check and set one value; returns the old value."""
        param = self.schema.get(name)
        if param is None:
            known = ", ".join(self.schema) or "none"
            raise SceneParamError(f"{self.scene or 'scene'}: no difficulty setting {name!r} "
                                  f"(settings: {known})")
        old = self.values[name]
        self.values[name] = param.check(value, self.scene)
        return old

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def as_dict(self) -> dict[str, Any]:
        """A copy of the values in force."""
        return dict(self.values)
