"""GMI scenes. Built-in and third-party scenes register the same way: an entry point in the
``vrgmi.scenes`` group naming a :class:`vrgmi.scenes.base.Scene` subclass."""
from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from vrgmi.errors import VrgmiError
from vrgmi.scenes.base import Scene

GROUP = "vrgmi.scenes"


class SceneLoadError(VrgmiError):
    """A scene is not installed, or its plug-in fails to load (one line)."""


def _load(ep: EntryPoint) -> type[Scene]:
    try:
        cls = ep.load()
    except Exception as exc:      # a third-party package's own failure: one line
        raise SceneLoadError(f"scene plug-in {ep.name!r} ({ep.value}) failed to load: "
                             f"{type(exc).__name__}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Scene)):
        raise SceneLoadError(f"scene plug-in {ep.name!r} ({ep.value}) is not a Scene class")
    return cls


def load_scene(name: str) -> type[Scene]:
    """The scene class registered as ``name``; only that plug-in is imported, so a broken
    unrelated one cannot stop a session."""
    ep = next(iter(entry_points(group=GROUP, name=name)), None)
    if ep is None:
        raise SceneLoadError(f"no scene named {name!r} is installed (see `vrgmi scenes`)")
    return _load(ep)


def available_scenes(problems: list[str] | None = None) -> dict[str, type[Scene]]:
    """Every installed scene class by entry-point name, sorted. A plug-in that fails to load
    is left out and its one-line reason appended to ``problems`` (when given)."""
    found: dict[str, type[Scene]] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            found[ep.name] = _load(ep)
        except SceneLoadError as exc:
            if problems is not None:
                problems.append(str(exc))
    return found
