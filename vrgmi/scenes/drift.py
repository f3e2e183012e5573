"""Proprioceptive drift task, before and after a mirror block (:mod:`vrgmi.measures.drift`).

The scene notes where the phantom hand (foot) is drawn, fades the view to the plain room
(both limbs hidden; ``embodiment.drift_fade_s``), then asks the patient to place the intact
hand (foot) as the mirror image of where they feel the missing one and confirm with select.
Each pointing is a ``trial`` event: the drawn, pointed and felt (the pointed one mirrored in
the body frame) positions, the error in cm and its body-frame parts, the response time; a
pointing not confirmed within ``embodiment.drift_time_limit_s`` is a timeout. After
``embodiment.drift_trials`` pointings the limbs fade back in.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from vrgmi.i18n import N_, _
from vrgmi.measures.drift import felt_position, pointing_error
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame
from vrgmi.scenes.schema import Param

#: seconds between pointings, to bring the hand (foot) back to rest
REST_S = 1.2
POINT = {"arm": N_("Place your hand as the mirror image of where\nyou feel your missing "
                   "hand. Then press select."),
         "leg": N_("Place your foot as the mirror image of where\nyou feel your missing "
                   "foot. Then press select.")}
REST = {"arm": N_("Thank you. Rest your hand."), "leg": N_("Thank you. Rest your foot.")}


class DriftTask(Scene):
    """Where does the patient feel the phantom? Pointing with the intact limb, limbs hidden."""

    name = "proprioceptive_drift"
    description = "proprioceptive drift: point to the felt phantom before / after a block"
    phase = "questionnaire"
    params = (
        Param("moment", "choice", "pre", "before or after the mirror block",
              choices=("pre", "post")),
        Param("pair", "int", 0, "the mirror block this task belongs to", lo=0, hi=99),
    )
    emits = ("trial",)
    trial_fields = {"moment": "pre or post (the mirror block)", "pair": "the mirror block",
                    "drawn": "the phantom hand / foot as drawn (m, engine space)",
                    "pointed": "the intact hand / foot when confirmed (m)",
                    "felt": "the pointed position mirrored in the body frame (m)",
                    "error_cm": "distance felt - drawn (cm)",
                    "lateral_cm": "felt - drawn along the body's right axis (cm)",
                    "forward_cm": "... forward (cm)", "up_cm": "... up (cm)",
                    "rt_s": "from the prompt to the confirmation (s)",
                    "timeout": "not confirmed within the time limit"}
    instructions = N_("Where do you feel your missing limb? The view will fade and the "
                      "virtual limbs disappear. Then show where you feel your missing limb "
                      "with your other limb, as its mirror image, and press select.")

    def __init__(self, **difficulty: Any) -> None:
        super().__init__(**difficulty)
        self.state = "fade"                    # fade | point | rest | reveal
        self.trials: list[dict[str, Any]] = []
        self.message = "drift: fading to the plain room"
        self._count = 2
        self._fade_s = 0.8
        self._limit_s = 20.0
        self._since: float | None = None
        self._drawn = np.zeros(3)
        self._torso = np.zeros(7)
        self._curtain = None
        self._prompt = None
        self._view = None

    def setup(self, ctx: SceneContext) -> None:
        """Read the task's settings; build the curtain and the prompt when rendering."""
        super().setup(ctx)
        if ctx.settings is not None:
            e = ctx.settings.embodiment
            self._count, self._fade_s, self._limit_s = (e.drift_trials, e.drift_fade_s,
                                                        e.drift_time_limit_s)
        if ctx.root is None or ctx.base is None:
            return
        from vrgmi.render.ui import FacingView, Panel, backdrop
        from vrgmi.render.veil import Veil
        self._curtain = Veil(ctx.root, ctx.base.camera)
        view = self._view = FacingView(ctx.root, "drift")
        view.place(ctx.core, ctx.core.frame.head, bool(ctx.core.frame.head_valid))
        self._prompt = Panel(view.root, (0.0, 0.0, 0.0), view.distance_m, 2.2, "drift-prompt",
                             card=False)
        backdrop(view.root, 1.0, 0.22, (0.0, 0.002, 0.0))
        view.root.hide()

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Fade, take the pointings, fade back."""
        core = self.ctx.core
        t = frame.t
        if self._since is None:
            self._since = t
            self._drawn[:] = core.phantom.positions[core.effector_index]
            self._torso[:] = core.torso.pose
        age = t - self._since
        half = self._fade_s / 2.0
        if self.state == "fade":
            self._veil(min(1.0, age / half) if age < half else max(0.0, 2.0 - age / half))
            if age >= half:
                self._hide_limbs(True)
            if age >= self._fade_s:
                self._to("point", t)
        elif self.state == "point":
            self._hide_limbs(True)
            self._point(frame, core)
        elif self.state == "rest":
            self._hide_limbs(True)
            if age >= REST_S:
                self._to("point", t)
        elif self.state == "reveal":
            self._veil(min(1.0, age / half) if age < half else max(0.0, 2.0 - age / half))
            self._hide_limbs(age < half)
            self.finished = age >= self._fade_s

    def _point(self, frame: SceneFrame, core: Any) -> None:
        t = frame.t
        confirm = next((e for e in frame.inputs if e.action == "select"), None)
        if confirm is None and t - self._since < self._limit_s:
            return
        trial: dict[str, Any] = {"index": len(self.trials), "block": 0,
                                 "moment": self.difficulty["moment"],
                                 "pair": self.difficulty["pair"], "limb": core.limb,
                                 "drawn": [round(float(v), 4) for v in self._drawn],
                                 "timeout": confirm is None}
        if confirm is not None:
            pointed = core.intact.positions[core.effector_index].copy()
            felt = felt_position(pointed, self._torso)
            trial.update(pointed=[round(float(v), 4) for v in pointed],
                         felt=[round(float(v), 4) for v in felt],
                         **pointing_error(felt, self._drawn, self._torso),
                         rt_s=round(confirm.t - self._since, 4))
            t = confirm.t
        self.trials.append(trial)
        self.emit("trial", trial, t)
        self.message = (f"drift {self.difficulty['moment']}: pointing {len(self.trials)} of "
                        f"{self._count}: " + ("timeout" if confirm is None else
                                              f"{trial['error_cm']:.1f} cm from the drawn one"))
        self._to("rest" if len(self.trials) < self._count else "reveal", frame.t)

    def _to(self, state: str, t: float) -> None:
        self.state, self._since = state, t
        if self._view is None:
            return
        limb = self.ctx.core.limb
        text = {"point": POINT[limb], "rest": REST[limb]}.get(state)
        if text is None:
            self._view.root.hide()
        else:
            self._view.place(self.ctx.core, self.ctx.core.frame.head,
                             bool(self.ctx.core.frame.head_valid))
            self._prompt.set_text(_(text))
            self._view.root.show()

    def _veil(self, alpha: float) -> None:
        if self._curtain is not None:
            self._curtain.set_alpha(alpha)

    def _hide_limbs(self, hidden: bool) -> None:
        ctx = self.ctx
        for rig in (ctx.intact_rig, ctx.phantom_rig):
            if rig is not None:
                rig.root.hide() if hidden else rig.root.show()

    def teardown(self) -> None:
        """Show the limbs again (the curtain goes with the scene's node)."""
        if self.ctx is not None:
            self._hide_limbs(False)
        self._curtain = None
        super().teardown()

    def summary(self) -> dict[str, Any]:
        """Pointings made, timeouts, and the mean error (cm) of the confirmed ones."""
        done = [t["error_cm"] for t in self.trials if not t["timeout"]]
        return {"moment": self.difficulty["moment"], "pair": self.difficulty["pair"],
                "pointings": len(done), "timeouts": len(self.trials) - len(done),
                "error_cm": round(sum(done) / len(done), 2) if done else None}
