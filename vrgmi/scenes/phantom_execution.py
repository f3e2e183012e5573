"""Phantom motor execution: match a target posture with the phantom alone, its grip, wrist
rotation or ankle flexion driven by the patient's decoded muscle signals over LSL
(``[lsl] drive_stream``), the intact limb kept still. Logic: :class:`vrgmi.research.pme.
PmeTask`; docs/research.md."""
from __future__ import annotations

from typing import Any

from vrgmi.i18n import N_, _
from vrgmi.research.drive import LIMB_DOFS
from vrgmi.research.pme import PmeTask, dof_posture
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame
from vrgmi.scenes.schema import Param
from vrgmi.settings import Settings

#: what the patient is asked, per degree of freedom (low end .. high end of its range)
ASK = {"grip": (N_("hand open"), N_("fist")),
       "wrist": (N_("palm up"), N_("palm down")),
       "ankle": (N_("toes down"), N_("toes up"))}
#: characters of the text gauge
GAUGE = 24


def gauge(target: float, posture: float) -> str:
    """A one-line gauge: ``#`` up to the phantom's posture, ``|`` at the target."""
    cells = ["#" if (i + 0.5) / GAUGE <= posture else "." for i in range(GAUGE)]
    cells[min(GAUGE - 1, int(target * GAUGE))] = "|"
    return "[" + "".join(cells) + "]"


class PhantomExecution(Scene):
    """Target postures for the phantom's driven degrees of freedom, one per trial."""

    name = "phantom_execution"
    description = ("phantom motor execution: move the phantom alone (decoded muscle signals) "
                   "to a target grip, wrist rotation or ankle angle; the intact limb stays still")
    phase = "mirror"
    params = (
        Param("dof", "choice", "auto", "degree of freedom to train (auto: every driven one in "
              "turn)", choices=("auto", "grip", "wrist", "ankle")),
        Param("trials", "int", 8, "target postures in this scene", 1, 60),
        Param("target_min", "float", 0.2, "lowest target along the range", 0.0, 1.0),
        Param("target_max", "float", 0.8, "highest target along the range", 0.0, 1.0),
        Param("tolerance", "float", 0.1, "how close to the target counts (fraction of the "
              "range)", 0.02, 0.5),
        Param("hold_s", "float", 1.0, "seconds to hold the target", 0.0, 10.0, unit="s"),
        Param("time_limit_s", "float", 15.0, "seconds allowed per target", 2.0, 120.0,
              unit="s"),
        Param("rest_s", "float", 2.0, "rest between targets", 0.0, 30.0, unit="s"),
    )
    emits = ("trial", "block_finished")
    trial_fields = {
        "index": "trial number", "dof": "degree of freedom (grip | wrist | ankle)",
        "target": "target posture, 0..1 along the range", "condition": "dof/target",
        "success": "held within tolerance for hold_s", "onset_t": "display time the target "
        "was first shown (s)", "time_s": "onset to success or time limit (s)",
        "match_s": "onset to first within tolerance (s), null if never",
        "final_posture": "phantom posture at the end, 0..1", "final_error": "|posture - target|",
        "mean_error": "mean |posture - target| over the trial",
        "intact_drift_m": "furthest the intact end effector moved from its start (m)",
        "intact_peak_mps": "fastest it moved (m/s)",
        "intact_moved": "the intact limb moved (imagery.intact_moved_m / _mps)",
        "drive_presence": "mean presence of the decoded signal (0: only the mirror moved it)"}
    instructions = N_("Move your missing hand or foot to match the target, and hold it "
                      "there. Keep your other limb still.")

    def __init__(self, **difficulty: Any) -> None:
        super().__init__(**difficulty)
        self.task: PmeTask | None = None
        self._panel = None
        self._view = None

    def setup(self, ctx: SceneContext) -> None:
        """The task, and a panel with the request and a gauge."""
        super().setup(ctx)
        d = self.difficulty
        settings = ctx.settings if ctx.settings is not None else Settings()
        self.task = PmeTask(self._dofs(ctx), ctx.rng(), d["trials"],
                            min(d["target_min"], d["target_max"]),
                            max(d["target_min"], d["target_max"]), d["tolerance"],
                            d["hold_s"], d["time_limit_s"], d["rest_s"],
                            settings.imagery.intact_moved_m, settings.imagery.intact_moved_mps)
        if ctx.root is not None:
            from vrgmi.render.ui import FacingView, Panel
            self._view = FacingView(ctx.root, "phantom-execution", distance_m=1.2, drop_m=0.1)
            self._panel = Panel(self._view.root, (0.0, 0.0, 0.0), self._view.distance_m, 1.8,
                                "phantom-execution-panel")

    def _dofs(self, ctx: SceneContext) -> tuple[str, ...]:
        core = ctx.core
        limb = getattr(core, "limb", "arm")
        chosen = self.difficulty["dof"]
        if chosen != "auto":
            return (chosen,) if chosen in LIMB_DOFS[limb] else LIMB_DOFS[limb][:1]
        drive = getattr(core, "drive", None)
        driven = tuple(m.dof for m in drive.maps) if drive is not None else ()
        return driven or LIMB_DOFS[limb]

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Score the phantom's posture against the target; show request and gauge."""
        task, core = self.task, self.ctx.core
        drive = getattr(core, "drive", None)
        posture = dof_posture(frame.phantom, task.dof)
        record = task.update(frame.t, dt, posture, frame.intact.positions[core.effector_index],
                             drive.presence if drive is not None else 0.0)
        if record is not None:
            self.emit("trial", record)
        if task.done and not self.finished:
            self.emit("block_finished", {"block": 0, **task.summary()})
            self.finished = True
        if self._panel is not None:
            self._view.place(core, frame.head, frame.head_valid)
            low, high = ASK[task.dof]
            text = (_("Rest") if not task.active else
                    f"{_(low)}  <->  {_(high)}\n{gauge(task.target, posture)}")
            self._panel.set_text(text)

    def summary(self) -> dict[str, Any]:
        """The block's figures (:meth:`PmeTask.summary`)."""
        return self.task.summary() if self.task is not None else {}
