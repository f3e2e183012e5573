"""The scene interface: what every GMI scene, built-in or third-party, implements.

A scene is one class in one file (docs/writing-a-scene.md): a name, a description, its GMI
phase, a difficulty schema (:mod:`vrgmi.scenes.schema`), ``setup``, ``update(frame, dt)``,
``teardown``, and the events it emits through ``ctx.emit``. It reads the solved limbs and the
patient's input from the :class:`SceneFrame`; it never touches tracking or IK directly.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from vrgmi.events import EventBus
from vrgmi.i18n import _, set_language
from vrgmi.input import InputEvent
from vrgmi.scenes.schema import Difficulty, Param
from vrgmi.settings import Settings

#: GMI phases in program order, then the scenes that belong to no phase
PHASES = ("laterality", "imagery", "mirror")
SCENE_PHASES = PHASES + ("questionnaire", "rest")


@dataclass
class SceneFrame:
    """What a scene sees each frame (read-only; arrays are the engine's, not copies).

    ``t`` is the frame's predicted display time (s): a stimulus first drawn in this frame
    is seen at ``t``, so response times are ``input.t - t_onset``.
    """

    t: float
    index: int
    inputs: list[InputEvent]
    head: np.ndarray               # (7,) engine-space head pose
    head_valid: bool
    intact: Any                    # LimbSolver: positions (J, 3), rotations (J, 4), angles
    phantom: Any                   # LimbSolver of the mirrored (missing) limb
    phantom_visibility: float      # 0..1: the intact limb's tracking visibility
    tracking: Any                  # the filtered TrackingFrame (grip, trigger, hand joints...)


@dataclass
class SceneContext:
    """What a scene may use. ``root`` is the node the scene builds under (None when run
    without rendering); ``core`` the CorePipeline (read-only: limb, sides, lengths, torso);
    ``intact_rig`` / ``phantom_rig`` the rendered limbs (a scene may hide them or pose the
    phantom itself, e.g. to demonstrate a movement); ``events`` the session's event bus."""

    root: Any
    core: Any
    events: EventBus = field(default_factory=EventBus)
    settings: Any = None
    intact_rig: Any = None
    phantom_rig: Any = None
    base: Any = None               # the Panda3D ShowBase (loader, fonts), None without rendering
    #: the block's seed (:func:`vrgmi.seeding.block_seed` of the session's seed): every random
    #: choice of the scene (stimuli, order, targets, jitter) comes from :meth:`rng`
    seed: int = 0

    def rng(self) -> np.random.Generator:
        """A generator seeded with :attr:`seed` (the same sequence for the same seed)."""
        return np.random.default_rng(self.seed)


class Scene(ABC):
    """One GMI scene: ``setup`` once, ``update`` every frame, ``teardown`` at the end.

    Subclasses set the class attributes and implement :meth:`update`. The runner reads
    :attr:`finished` after each update and moves on when it is True.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    phase: ClassVar[str] = ""               # one of SCENE_PHASES
    limbs: ClassVar[tuple[str, ...]] = ("arm", "leg")   # which limbs it works with
    params: ClassVar[tuple[Param, ...]] = ()
    #: event kinds it emits, and the keys of its ``trial`` events with a one-line meaning each
    emits: ClassVar[tuple[str, ...]] = ()
    trial_fields: ClassVar[dict[str, str]] = {}
    #: what the patient reads (and hears) before the scene starts, in English, marked with
    #: ``vrgmi.i18n.N_`` so it is translated (docs/writing-a-scene.md); "" = no screen
    instructions: ClassVar[str] = ""

    def __init__(self, **difficulty: Any) -> None:
        self.difficulty = Difficulty(self.params, difficulty, self.name)
        self.finished = False
        self.ctx: SceneContext | None = None
        self._t = 0.0
        self.instruction_screen = None

    def setup(self, ctx: SceneContext) -> None:
        """Build the scene's objects under ``ctx.root``; subclasses call super first.

        Applies the ``ui`` settings (language, text size and contrast) and prepares the
        instruction screen, which :meth:`step` shows before the scene runs."""
        self.ctx = ctx
        settings = ctx.settings if ctx.settings is not None else Settings()
        set_language(settings.ui.language)
        if ctx.root is not None:
            from vrgmi.render.ui import configure_text
            configure_text(settings.ui)
        ctx.events.emit("scene_started", self._t,
                        {"phase": self.phase, "params": self.difficulty.as_dict(),
                         "seed": ctx.seed}, self.name)
        text = self.instruction_text() if settings.ui.instructions else ""
        if text:
            from vrgmi.scenes.instructions import InstructionScreen
            self.instruction_screen = InstructionScreen(text, ctx, settings)

    def instruction_text(self) -> str:
        """The instruction screen's text in the UI language ("" = no screen): by default
        :attr:`instructions`, translated."""
        return _(self.instructions) if self.instructions else ""

    def step(self, frame: SceneFrame, dt: float) -> None:
        """What the engine calls each frame: the instruction screen until it is dismissed
        (the scene starts the frame after), then :meth:`update`."""
        self._begin_frame(frame)
        screen = self.instruction_screen
        if screen is not None and not screen.gate.done:
            screen.update(frame, self.ctx.core if self.ctx is not None else None)
            return
        self.update(frame, dt)

    @abstractmethod
    def update(self, frame: SceneFrame, dt: float) -> None:
        """Advance one frame (after the limbs are solved and posed, before the draw)."""

    def teardown(self) -> None:
        """Remove what ``setup`` built; subclasses call super last."""
        if self.ctx is not None:
            finished = {"summary": self.summary(),
                        "reason": "completed" if self.finished else "stopped"}
            if self.instruction_screen is not None:
                self.instruction_screen.close()
                finished["instructions"] = self.instruction_screen.gate.record()
            self.ctx.events.emit("scene_finished", self._t, finished, self.name)
            if self.ctx.root is not None:
                self.ctx.root.remove_node()
            self.ctx = None

    def set_param(self, name: str, value: Any, by: str = "therapist") -> None:
        """Change one difficulty value (checked; applied at the next frame) and record it."""
        old = self.difficulty.set(name, value)
        if self.ctx is not None:
            self.ctx.events.emit("param_changed", self._t,
                                 {"name": name, "old": old, "new": self.difficulty[name],
                                  "by": by}, self.name)

    def emit(self, kind: str, data: dict[str, Any], t: float | None = None) -> None:
        """Emit one event at display time ``t`` (default: the current frame's)."""
        if self.ctx is not None:
            self.ctx.events.emit(kind, self._t if t is None else t, data, self.name)

    def summary(self) -> dict[str, Any]:
        """Figures for the scene's run so far (the runner records them when it ends)."""
        return {}

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """A JSON-ready description: what ``vrgmi scenes`` and the companion show."""
        return {"name": cls.name, "description": cls.description, "phase": cls.phase,
                "limbs": list(cls.limbs), "params": [p.describe() for p in cls.params],
                "emits": list(cls.emits), "trial_fields": dict(cls.trial_fields)}

    def _begin_frame(self, frame: SceneFrame) -> None:
        """The engine calls this before :meth:`update` so events default to the frame time."""
        self._t = frame.t
