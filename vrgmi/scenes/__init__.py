"""GMI scenes. Built-in and third-party scenes register the same way: an entry point in the
``vrgmi.scenes`` group naming a :class:`vrgmi.scenes.base.Scene` subclass."""
from __future__ import annotations

from importlib.metadata import entry_points

from vrgmi.errors import VrgmiError
from vrgmi.scenes.base import Scene

GROUP = "vrgmi.scenes"


def available_scenes() -> dict[str, type[Scene]]:
    """Every installed scene class by entry-point name, sorted; a broken plug-in is reported
    in one line instead of taking the engine down."""
    found: dict[str, type[Scene]] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            cls = ep.load()
        except Exception as exc:  # a third-party package's own failure
            raise VrgmiError(f"scene plug-in {ep.name!r} ({ep.value}) failed to load: "
                             f"{type(exc).__name__}: {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Scene)):
            raise VrgmiError(f"scene plug-in {ep.name!r} ({ep.value}) is not a Scene class")
        found[ep.name] = cls
    return found
