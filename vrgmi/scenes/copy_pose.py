"""Copy the pose: a translucent "ghost" arm shows a pose; the mirrored arm matches and holds it."""
from __future__ import annotations

from typing import Any

from vrgmi.i18n import N_, _
from vrgmi.ik.solver import ArmSolver
from vrgmi.mirror.copy_pose import POSE_SETS, CopyPoseTask, PoseTarget, pose_sequence, solve_pose
from vrgmi.render.color import hex_to_linear
from vrgmi.render.rig import LimbRig
from vrgmi.render.skin import SkinLook, StumpBlend
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.mirror_common import COMMON_TRIAL_FIELDS, MirrorTaskScene
from vrgmi.scenes.reach_targets import PALM
from vrgmi.scenes.schema import Param

#: the ghost: a calm pale teal, see-through so the patient's own mirrored arm shows inside
GHOST_TONE = "#9fd3cc"
GHOST_ALPHA = 0.35


class CopyPose(MirrorTaskScene):
    """A target pose is shown as a see-through ghost arm where the missing arm is; the
    patient moves the intact arm until the mirrored arm fits the ghost, and holds it."""

    name = "copy_pose"
    description = "match a ghost arm's pose with the mirrored arm and hold it"
    limbs = ("arm",)
    params = (
        Param("pose_set", "choice", "simple", "simple arm poses, functional poses with a hand "
              "posture, or all", choices=tuple(POSE_SETS)),
        Param("tolerance_deg", "float", 15.0, "mean joint-angle error that counts as a match",
              5.0, 40.0, unit="deg"),
        Param("hold_s", "float", 1.0, "seconds to hold the matched pose", 0.0, 5.0, unit="s"),
        Param("time_limit_s", "float", 15.0, "seconds allowed per pose", 3.0, 60.0, unit="s"),
        Param("trials", "int", 8, "poses in this scene", 1, 50),
    )
    trial_fields = {**COMMON_TRIAL_FIELDS,
                    "pose": "the target pose's name",
                    "joint_angle_error_deg": "mean |joint angle - target| over the compared "
                                             "joints when matched, else the best reached (deg)",
                    "joint_angle_error_max_deg": "largest joint error at that moment (deg)",
                    "joints_compared": "the joints scored",
                    "tolerance_deg": "match tolerance (deg)", "hold_s": "hold required (s)"}
    instruction = N_("Move your mirrored arm into the see-through arm and hold it")

    def make_task(self, ctx: SceneContext, rate_hz: float) -> CopyPoseTask:
        core = ctx.core
        L = core.lengths
        self._solver = ArmSolver(L.upper_arm, L.forearm, L.hand)
        side = core.amputated
        d = self.difficulty
        self._poses = pose_sequence(d["pose_set"], d["trials"], self.rng)

        def target(index: int) -> PoseTarget:
            if index >= len(self._poses):            # trials raised by the therapist
                self._poses += pose_sequence(self.difficulty["pose_set"],
                                             index + 1 - len(self._poses), self.rng)
            return solve_pose(self._poses[index], self._solver, core.torso.pose,
                              core.torso.shoulder(side).copy(), side,
                              L.upper_arm + L.forearm)

        return CopyPoseTask(target, d["tolerance_deg"], d["hold_s"], d["time_limit_s"],
                            d["trials"], rest_s=1.5, rate_hz=rate_hz)

    def configure(self) -> None:
        super().configure()
        d, task = self.difficulty, self.task
        task.tolerance_deg = d["tolerance_deg"]
        task.hold.hold_s = d["hold_s"]
        done = len(task.results) + int(task.active)
        self._poses[done:] = pose_sequence(d["pose_set"], max(task.trials - done, 0), self.rng)

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        core, rig = ctx.core, ctx.phantom_rig
        shader = rig.character.get_shader() if rig is not None else None
        height = ctx.settings.patient.height_m if ctx.settings is not None else 1.75
        look = SkinLook(tone=hex_to_linear(GHOST_TONE), rim_strength=0.6)
        blend = StumpBlend(distance=0.0, width=0.0, residual_alpha=GHOST_ALPHA,
                           phantom_alpha=GHOST_ALPHA)
        self.ghost = LimbRig(ctx.root, "arm", core.amputated, height, shader, look, blend,
                             shape=rig.shape if rig is not None else None)   # the phantom's
        self.ghost.character.set_bin("transparent", 20)
        self.ghost.character.set_depth_write(False)
        self.ghost.root.hide()
        self._shown: Any = None

    def step_task(self, frame: SceneFrame) -> dict[str, Any] | None:
        return self.task.update(frame.t, self.effector(frame, PALM), frame.phantom.angles,
                                frame.phantom_visibility > 0.0)

    def draw(self, frame: SceneFrame) -> None:
        task = self.task
        if not task.active or task.target is None:
            self.ghost.root.hide()
            self._shown = None
            return
        if self._shown is not task.target:
            self.ghost.apply(task.target.positions, task.target.rotations, 1.0)
            self._shown = task.target

    def panel_text(self, frame: SceneFrame) -> str:
        task = self.task
        if not task.active or task.target is None or task.finished:
            return super().panel_text(frame)
        lines = [task.target.pose.label]
        mean = task.error[0]
        if mean == mean:
            held = task.hold.held_s(frame.t)
            lines.append(_("Hold it... {held:.1f} s").format(held=held) if held > 0.0
                         else (_("Close - keep going") if mean <= 2 * task.tolerance_deg
                               else _("Move into the see-through arm")))
        lines.append(_("Pose {n} of {total}").format(n=task.index + 1, total=task.trials))
        return "\n".join(lines)
