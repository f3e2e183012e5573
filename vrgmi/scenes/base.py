"""The scene interface: what every GMI scene, built-in or third-party, implements.

A scene is one subclass of :class:`Scene` in one file (docs/writing-a-scene.md): a name, a
description, its GMI phase, a difficulty schema (:mod:`vrgmi.scenes.schema`), ``setup``,
``update(frame, dt)``, ``teardown``, and the events it emits through :meth:`Scene.emit`. It
reads the solved limbs and the patient's input from the :class:`SceneFrame`, and what it may
build on from the :class:`SceneContext`; it never touches tracking or IK directly.

The contract is the public members below; everything with a leading underscore is the
scene's own. The engine drives a scene through :meth:`Scene.setup`, :meth:`Scene.step` (each
frame) and :meth:`Scene.teardown`; the session sets its event clock with
:meth:`Scene.set_time` where it starts or ends a scene between frames.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Union

import numpy as np

from vrgmi.events import EventBus
from vrgmi.i18n import _, set_language
from vrgmi.input import InputEvent
from vrgmi.scenes.schema import Difficulty, Param
from vrgmi.settings import Settings

if TYPE_CHECKING:
    from direct.showbase.ShowBase import ShowBase
    from panda3d.core import NodePath

    from vrgmi.core import CorePipeline
    from vrgmi.ik.solver import LimbSolver
    from vrgmi.render.rig import LimbRig
    from vrgmi.scenes.instructions import InstructionScreen
    from vrgmi.tracking.frame import TrackingFrame

#: a difficulty parameter's value (its :class:`~vrgmi.scenes.schema.Param` kind: int, float,
#: bool or choice)
ParamValue = Union[int, float, bool, str]
#: an event's or a summary's JSON-ready data
EventData = dict[str, object]

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
    intact: LimbSolver             # positions (J, 3), rotations (J, 4), angles
    phantom: LimbSolver            # the mirrored (missing) limb
    phantom_visibility: float      # 0..1: the intact limb's tracking visibility
    tracking: TrackingFrame        # the filtered frame (grip, trigger, hand joints...)


@dataclass
class SceneContext:
    """What a scene may use. ``root`` is the node the scene builds under (None when run
    without rendering); ``core`` the CorePipeline (read-only: limb, sides, lengths, torso);
    ``intact_rig`` / ``phantom_rig`` the rendered limbs (a scene may hide them or pose the
    phantom itself, e.g. to demonstrate a movement); ``events`` the session's event bus."""

    root: NodePath | None
    core: CorePipeline
    events: EventBus = field(default_factory=EventBus)
    settings: Settings | None = None
    intact_rig: LimbRig | None = None
    phantom_rig: LimbRig | None = None
    base: ShowBase | None = None   # the Panda3D ShowBase (loader, fonts), None without rendering
    #: the block's seed (:func:`vrgmi.seeding.block_seed` of the session's seed): every random
    #: choice of the scene (stimuli, order, targets, jitter) comes from :meth:`rng`
    seed: int = 0

    def rng(self) -> np.random.Generator:
        """A generator seeded with :attr:`seed` (the same sequence for the same seed)."""
        return np.random.default_rng(self.seed)


class Scene(ABC):
    """One GMI scene: ``setup`` once, ``update`` every frame, ``teardown`` at the end.

    Subclasses set the class attributes and implement :meth:`update`. The runner reads
    :attr:`finished` after each update and moves on when it is True. Public state:
    :attr:`difficulty` (the checked parameter values), :attr:`finished`, :attr:`ctx` (set
    between setup and teardown), :attr:`now` (the display time events default to) and
    :attr:`instruction_screen`.
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

    def __init__(self, **difficulty: ParamValue) -> None:
        self.difficulty = Difficulty(self.params, difficulty, self.name)
        self.finished = False
        self.ctx: SceneContext | None = None
        self._t = 0.0
        self.instruction_screen: InstructionScreen | None = None

    @property
    def now(self) -> float:
        """The display time (s) the scene's events default to: the current frame's."""
        return self._t

    def set_time(self, t: float) -> None:
        """Set :attr:`now` (the engine does it each frame; the session before it starts or
        ends a scene between frames, so those events carry the right time)."""
        self._t = t

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
        self.set_time(frame.t)
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

    def set_param(self, name: str, value: ParamValue, by: str = "therapist") -> None:
        """Change one difficulty value (checked; applied at the next frame) and record it."""
        old = self.difficulty.set(name, value)
        if self.ctx is not None:
            self.ctx.events.emit("param_changed", self._t,
                                 {"name": name, "old": old, "new": self.difficulty[name],
                                  "by": by}, self.name)

    def emit(self, kind: str, data: EventData, t: float | None = None) -> None:
        """Emit one event at display time ``t`` (default: the current frame's)."""
        if self.ctx is not None:
            self.ctx.events.emit(kind, self._t if t is None else t, data, self.name)

    def summary(self) -> EventData:
        """Figures for the scene's run so far (the runner records them when it ends)."""
        return {}

    @classmethod
    def describe(cls) -> EventData:
        """A JSON-ready description: what ``vrgmi scenes`` and the companion show."""
        return {"name": cls.name, "description": cls.description, "phase": cls.phase,
                "limbs": list(cls.limbs), "params": [p.describe() for p in cls.params],
                "emits": list(cls.emits), "trial_fields": dict(cls.trial_fields)}
