"""Phantom motor execution (Ortiz-Catalan 2016; docs/research.md): the patient moves the
phantom alone, its grip, wrist rotation or ankle flexion driven by their decoded muscle
signals (:mod:`.drive`), to a target posture, and holds it there, while the intact limb
stays still (or the phantom, a mirror image, would simply follow it). No rendering.

A degree of freedom's posture is 0..1 along its range: the grip as the fingers' flexion
over a full fist's, the wrist from full supination to full pronation, the ankle from full
plantarflexion to full dorsiflexion (``vrgmi.ik.limits``). A trial: after ``rest_s``, a
target in ``[target_min, target_max]`` (seeded); it succeeds once the phantom has stayed
within ``tolerance`` of it for ``hold_s``, and ends unsuccessful at ``time_limit_s``. The
intact limb's end effector moving further than ``imagery.intact_moved_m`` from where it
was at the trial's start, or faster than ``imagery.intact_moved_mps``, flags the trial
(``intact_moved``): the same stillness rule as explicit imagery.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from vrgmi.ik.kernels import FINGER_DOF0, G_FIST
from vrgmi.ik.limits import ARM_DOF_NAMES, LEG_DOF_NAMES

_JOINT = {"wrist": ARM_DOF_NAMES.index("forearm_pronation"),
          "ankle": LEG_DOF_NAMES.index("ankle_dorsiflexion")}


def dof_posture(solver: Any, dof: str) -> float:
    """``solver``'s posture along ``dof`` (grip | wrist | ankle), 0..1."""
    a = solver.angles
    if dof == "grip":
        fist = solver.geometry[G_FIST:G_FIST + 20]
        x = float(a[FINGER_DOF0:FINGER_DOF0 + 20] @ fist / (fist @ fist))
    else:
        j = _JOINT[dof]
        lo, hi = solver.limits[j]
        x = float((a[j] - lo) / (hi - lo))
    return min(1.0, max(0.0, x))


class PmeTask:
    """The trials of one phantom-motor-execution block (see the module docstring)."""

    def __init__(self, dofs: tuple[str, ...], rng: np.random.Generator, trials: int,
                 target_min: float, target_max: float, tolerance: float, hold_s: float,
                 time_limit_s: float, rest_s: float, still_m: float, still_mps: float) -> None:
        self.dofs, self.rng, self.trials = dofs, rng, trials
        self.target_min, self.target_max = target_min, target_max
        self.tolerance, self.hold_s = tolerance, hold_s
        self.time_limit_s, self.rest_s = time_limit_s, rest_s
        self.still_m, self.still_mps = still_m, still_mps
        self.results: list[dict[str, Any]] = []
        self.dof = dofs[0]
        self.target = math.nan
        self.onset = math.nan
        self.active = False
        self.done = False
        self._rest_until = math.nan
        self._start_pos = np.zeros(3)
        self._last_pos = np.zeros(3)
        self._reset_trial()

    def _reset_trial(self) -> None:
        self._inside_since = math.nan
        self._first_match = math.nan
        self._err_sum = 0.0
        self._frames = 0
        self._drift = 0.0
        self._peak_mps = 0.0
        self._presence = 0.0

    def update(self, t: float, dt: float, posture: float, intact_effector: np.ndarray,
               presence: float) -> dict[str, Any] | None:
        """One frame: ``posture`` of the phantom along the trial's degree of freedom, the
        intact end effector's position, the drive's presence. The finished trial's record
        on the frame it finishes, else None."""
        if self.done:
            return None
        if not self.active:
            if self._rest_until != self._rest_until:
                self._rest_until = t + self.rest_s
            if t < self._rest_until:
                return None
            k = len(self.results)
            self.dof = self.dofs[k % len(self.dofs)]
            self.target = float(self.rng.uniform(self.target_min, self.target_max))
            self.onset, self.active = t, True
            self._start_pos[:] = self._last_pos[:] = intact_effector
            self._reset_trial()
            return None
        err = abs(posture - self.target)
        self._err_sum += err
        self._frames += 1
        self._presence += presence
        self._drift = max(self._drift, float(np.linalg.norm(intact_effector - self._start_pos)))
        if dt > 0.0:
            speed = float(np.linalg.norm(intact_effector - self._last_pos)) / dt
            self._peak_mps = max(self._peak_mps, speed)
        self._last_pos[:] = intact_effector
        if err <= self.tolerance:
            if self._inside_since != self._inside_since:
                self._inside_since = t
            if self._first_match != self._first_match:
                self._first_match = t
        else:
            self._inside_since = math.nan
        held = self._inside_since == self._inside_since and t - self._inside_since >= self.hold_s
        if held or t - self.onset >= self.time_limit_s:
            return self._finish(t, held, err, posture)
        return None

    def _finish(self, t: float, success: bool, err: float, posture: float) -> dict[str, Any]:
        n = max(self._frames, 1)
        match = self._first_match
        record = {
            "index": len(self.results), "dof": self.dof, "target": round(self.target, 4),
            "condition": f"{self.dof}/{self.target:.2f}", "success": bool(success),
            "onset_t": self.onset, "time_s": round(t - self.onset, 4),
            "match_s": None if match != match else round(match - self.onset, 4),
            "final_posture": round(posture, 4), "final_error": round(err, 4),
            "mean_error": round(self._err_sum / n, 4),
            "intact_drift_m": round(self._drift, 4), "intact_peak_mps": round(self._peak_mps, 4),
            "intact_moved": self._drift > self.still_m or self._peak_mps > self.still_mps,
            "drive_presence": round(self._presence / n, 4),
        }
        self.results.append(record)
        self.active = False
        self._rest_until = t + self.rest_s
        self.done = len(self.results) >= self.trials
        return record

    def summary(self) -> dict[str, Any]:
        """The block's figures: trials, successes (all, and with the intact limb still),
        median time to success, mean final error, per degree of freedom success rate."""
        r = self.results
        ok = [x for x in r if x["success"]]
        still_ok = [x for x in ok if not x["intact_moved"]]
        per = {d: round(sum(x["success"] for x in r if x["dof"] == d)
                        / max(1, sum(x["dof"] == d for x in r)), 4)
               for d in self.dofs if any(x["dof"] == d for x in r)}
        return {"trials": len(r), "successes": len(ok), "successes_intact_still": len(still_ok),
                "success_rate": round(len(ok) / len(r), 4) if r else None,
                "intact_moved_trials": sum(x["intact_moved"] for x in r),
                "median_time_s": float(np.median([x["time_s"] for x in ok])) if ok else None,
                "mean_final_error": round(float(np.mean([x["final_error"] for x in r])), 4)
                if r else None,
                "success_rate_by_dof": per}
