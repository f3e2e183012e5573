"""Free mirror: the mirrored limb and nothing else to do (the engine's default scene)."""
from __future__ import annotations

from vrgmi.scenes.base import Scene, SceneFrame


class FreeMirror(Scene):
    """Move the intact limb and watch its mirror image move where the missing limb was."""

    name = "free_mirror"
    description = "the mirrored limb with nothing else to do"
    phase = "mirror"

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Nothing to score: the limbs are the whole scene."""
