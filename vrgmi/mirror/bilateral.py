"""Bilateral symmetric reaching: both limbs move together to a pair of mirror-image targets.

Mirror therapy asks the patient to move both limbs in the same way while watching the
mirror. The intact hand reaches for its target; the mirrored hand reaches the mirror-image
target by construction, so hitting the pair is scored like :class:`ReachTask`. What only a
bilateral task can measure is how the *residual* limb moves with the intact one:

* with a residual-limb tracker, each frame records the tracked residual point (the end of
  the stump segment as the phantom's fixed joints place it, see
  :func:`residual_point_index`) and the mirror image of the same point of the intact limb;
  ``symmetry`` is their :func:`vrgmi.measures.movement.symmetry` (correlation of the two
  centred trajectories, amplitude ratio, RMS difference, lag);
* without one, the residual limb is not measured at all and the mirrored limb is an exact
  copy of the intact one, so ``symmetry`` is null; the trial still records
  ``timing_error_s``, the reach time against the pacing cue (``pace_s``).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from vrgmi.measures.movement import symmetry
from vrgmi.mirror.reach import ReachTask
from vrgmi.mirror.trial import TraceBuffer, check_range

#: fraction of a trial's frames with the residual limb tracked below which no symmetry is
#: reported (a few lost frames are dropped; a mostly untracked trial says nothing)
MIN_TRACKED_FRACTION = 0.8


def residual_point_index(stump_segment: int) -> int:
    """Joint index of the point compared for symmetry: the distal end of the stump segment
    (elbow / knee for a stump on the upper arm / thigh, wrist / ankle otherwise), which the
    core places along the tracked residual segment."""
    return min(stump_segment + 1, 2)


class BilateralTask(ReachTask):
    """One mirror-image target pair per trial, reached with both limbs at ``pace_s``.

    ``update(t, effector, mirrored_palm, mirrored_intact, residual)``: ``effector`` the
    phantom palm, ``mirrored_palm`` the mirror image of the intact palm (the pair counts as
    reached when both are on the phantom-side target: with a residual tracker the phantom
    hand follows the real residual limb, so both limbs must get there), ``mirrored_intact``
    the mirror image of the intact limb's compared point and ``residual`` the tracked
    residual limb's point, both None when the residual limb is not tracked."""

    task = "bilateral"

    def __init__(self, make_targets: Callable[[int], np.ndarray], radius_m: float,
                 dwell_s: float, time_limit_s: float, trials: int, pace_s: float,
                 rest_s: float = 1.0, rate_hz: float = 90.0) -> None:
        super().__init__(make_targets, radius_m, dwell_s, time_limit_s, trials, rest_s,
                         rate_hz)
        self.pace_s = check_range("pace_s", pace_s, 0.5, 30.0)
        self.pairs = TraceBuffer(6)
        self._row = np.zeros(6)
        self._frames = 0
        self._mirrored_palm = np.zeros(3)

    def update(self, t: float, effector: np.ndarray, mirrored_palm: np.ndarray,
               mirrored_intact: np.ndarray | None = None,
               residual: np.ndarray | None = None) -> dict[str, Any] | None:
        """One frame (see the class docstring)."""
        self._mirrored_palm[:] = mirrored_palm
        if self.active and not self.finished:
            self._frames += 1
            if residual is not None and mirrored_intact is not None:
                self._row[:3] = mirrored_intact
                self._row[3:] = residual
                self.pairs.append(t, self._row)
        return super().update(t, effector)

    def _begin(self, t: float) -> None:
        super()._begin(t)
        self.pairs.clear()
        self._frames = 1

    def inside(self, effector: np.ndarray, target: np.ndarray) -> bool:
        """Both the phantom palm and the mirrored intact palm are on the target."""
        return super().inside(effector, target) and super().inside(self._mirrored_palm, target)

    def tracked_fraction(self) -> float:
        """Fraction of this trial's frames with the residual limb tracked."""
        return self.pairs.n / self._frames if self._frames else 0.0

    def _symmetry(self) -> dict[str, float] | None:
        if self.tracked_fraction() < MIN_TRACKED_FRACTION or self.pairs.n < 3:
            return None
        _, rows = self.pairs.view()
        return symmetry(rows[:, :3], rows[:, 3:], self.rate_hz).as_dict()

    def _fields(self, outcome: str) -> dict[str, Any]:
        fields = super()._fields(outcome)
        elapsed = self.hit_times[-1] if outcome == "hit" else None
        fields.update(pace_s=self.pace_s,
                      timing_error_s=None if elapsed is None else round(elapsed - self.pace_s, 3),
                      residual_tracked_fraction=round(self.tracked_fraction(), 3))
        return fields
