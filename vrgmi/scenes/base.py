"""The scene interface: what every GMI scene (built-in or third-party) implements.

A scene reads the solved limbs (never tracking or IK directly) and emits trial events.
The full scene API (difficulty schemas, entry-point discovery) grows with the games.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SceneContext:
    """What a scene may use: the scene-graph node it owns and the engine's solved limbs."""

    root: Any                 # panda3d NodePath the scene builds under (None headless)
    core: Any                 # vrgmi.core.CorePipeline (read-only for scenes)
    events: list[dict] = field(default_factory=list)


class Scene(ABC):
    """One GMI scene: ``setup`` once, ``update`` every frame, ``teardown`` at the end."""

    name: str = ""
    description: str = ""
    phase: str = ""           # "laterality" | "imagery" | "mirror"

    def setup(self, ctx: SceneContext) -> None:
        """Build the scene's objects under ``ctx.root``."""
        self.ctx = ctx

    @abstractmethod
    def update(self, dt: float) -> None:
        """Advance one frame (after the limbs are solved and posed)."""

    def teardown(self) -> None:
        """Remove what ``setup`` built."""
