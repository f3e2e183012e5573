"""What the phantom does in each study condition, per frame (no Panda3D).

The core mirrors the intact limb into the phantom's inputs (wrist / ankle target, finger
curls or tracked hand joints, toe curl, elbow / knee swivel); :meth:`PhantomCondition.apply`
then replaces them, before the phantom's IK, as the session's condition says:

* ``mirror``: nothing (the treatment).
* ``delayed``: the inputs of the newest frame at least ``delay_s`` older than this one, from
  a ring buffer sized for ``max_delay_s`` at the display rate: the shown mirror image lags by
  the delay, to within one frame.
* ``frozen``: the inputs of the first frame the intact limb was tracked, held for the session.
* ``replay``: a recorded motion (:class:`MotionRecording`, in the body frame) played in a
  loop from the condition's start, whatever the intact limb does (non-mirrored movement).
* ``imagery``: the phantom is not shown (``shown`` False); the patient imagines it.

Every buffer is allocated by :meth:`PhantomCondition.set`; :meth:`apply` only copies.
docs/study-conditions.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from vrgmi.errors import VrgmiError
from vrgmi.spatial import qmul_t, qrot_t

#: every condition; ``mirror`` is the treatment, the rest are controls
CONDITIONS: tuple[str, ...] = ("mirror", "delayed", "frozen", "replay", "imagery")
#: rounding slack (s, far under a frame) so a frame exactly ``delay`` old counts as old enough
_EPS_S = 1e-4


class ConditionError(VrgmiError, ValueError):
    """A study condition or its parameters are wrong."""


@njit(cache=True)
def to_local_kernel(pose, torso, out):
    """World pose (7,) -> the torso's frame (origin and axes of ``torso``)."""
    tx, ty, tz, tw = torso[3], torso[4], torso[5], torso[6]
    out[0], out[1], out[2] = qrot_t(-tx, -ty, -tz, tw, pose[0] - torso[0], pose[1] - torso[1],
                                    pose[2] - torso[2])
    out[3], out[4], out[5], out[6] = qmul_t(-tx, -ty, -tz, tw, pose[3], pose[4], pose[5],
                                            pose[6])


@njit(cache=True)
def to_world_kernel(local, torso, out):
    """Inverse of :func:`to_local_kernel`."""
    tx, ty, tz, tw = torso[3], torso[4], torso[5], torso[6]
    x, y, z = qrot_t(tx, ty, tz, tw, local[0], local[1], local[2])
    out[0], out[1], out[2] = torso[0] + x, torso[1] + y, torso[2] + z
    out[3], out[4], out[5], out[6] = qmul_t(tx, ty, tz, tw, local[3], local[4], local[5],
                                            local[6])


@njit(cache=True)
def delayed_index(times, newest, count, cutoff):
    """Ring index of the newest of ``count`` entries (newest at ``newest``) whose time is at
    most ``cutoff``; the oldest entry when none is."""
    n = times.shape[0]
    k = newest
    for _ in range(count):
        if times[k] <= cutoff:
            return k
        k = (k - 1) % n
    return (newest - count + 1) % n


@dataclass
class MotionRecording:
    """A phantom motion to replay: per sample the display time ``t`` (s, from 0), the wrist /
    ankle target in the body frame ``local`` (N, 7), the finger curls (N, 5) or toe curl
    (N, 1) ``curls`` and the elbow / knee ``swivel`` (N,) (rad)."""

    t: np.ndarray
    local: np.ndarray
    curls: np.ndarray
    swivel: np.ndarray

    @property
    def duration(self) -> float:
        """Seconds of one loop (the last sample's time plus one sample)."""
        n = len(self.t)
        return float(self.t[-1] + (self.t[-1] - self.t[0]) / max(n - 1, 1))

    def save(self, path: str | Path) -> Path:
        """Write as ``.npz`` (atomically)."""
        from io import BytesIO

        from vrgmi.atomic import write_bytes
        buf = BytesIO()
        np.savez(buf, t=self.t, local=self.local, curls=self.curls, swivel=self.swivel)
        return write_bytes(path, buf.getvalue(), "motion recording")

    @classmethod
    def load(cls, path: str | Path) -> "MotionRecording":
        """Read a recording written by :meth:`save`; one-line errors."""
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                rec = cls(*(np.array(z[k], dtype=np.float64)
                            for k in ("t", "local", "curls", "swivel")))
        except (OSError, KeyError, ValueError) as exc:
            raise ConditionError(f"study: cannot read the motion {Path(path).name} "
                                 f"({type(exc).__name__})") from None
        rec.check()
        return rec

    def check(self) -> None:
        """One-line :class:`ConditionError` unless the arrays fit together."""
        n = len(self.t)
        if n < 2 or self.local.shape != (n, 7) or self.curls.ndim != 2 \
                or len(self.curls) != n or self.swivel.shape != (n,) \
                or not np.all(np.isfinite(self.local)) or not np.all(np.diff(self.t) > 0):
            raise ConditionError("study: a motion recording needs 2+ samples of increasing "
                                 "time, (N, 7) finite targets, curls and swivels")


def record_motion(core, seconds: float, rate_hz: float) -> MotionRecording:
    """Run ``core`` (a :class:`vrgmi.core.CorePipeline` on its own source) for ``seconds``
    at ``rate_hz`` and keep its mirrored phantom inputs in the body frame."""
    n = max(2, int(round(seconds * rate_hz)))
    arm = core.limb == "arm"
    rec = MotionRecording(np.arange(n) / rate_hz, np.zeros((n, 7)),
                          np.zeros((n, 5 if arm else 1)), np.zeros(n))
    for i in range(n):
        core.step(float(rec.t[i]), 1.0 / rate_hz)
        to_local_kernel(core.phantom.target, core.torso.pose, rec.local[i])
        rec.curls[i] = core.phantom.curls if arm else core.phantom.toe_curl
        rec.swivel[i] = core.intact.swivel
    return rec


class PhantomCondition:
    """The session's condition for one phantom; ``name`` one of :data:`CONDITIONS`."""

    def __init__(self, limb: str) -> None:
        self.limb = limb
        self.name = "mirror"
        self.delay_s = 0.0
        #: False in the imagery condition: the phantom is solved but not drawn
        self.shown = True
        self.swivel = math.nan                # the phantom's swivel this frame
        self.hand_tracked = False             # the phantom's hand from tracked joints
        self.started_t = math.nan
        self._captured = False
        self.motion: MotionRecording | None = None
        self._alloc(1)

    def _alloc(self, capacity: int) -> None:
        arm = self.limb == "arm"
        self.capacity = capacity
        self._t = np.full(capacity, -np.inf)
        self._target = np.zeros((capacity, 7))
        self._curls = np.zeros((capacity, 5 if arm else 1))
        self._hands = np.zeros((capacity, 26, 7) if arm else (capacity, 1, 7))
        self._tracked = np.zeros(capacity, dtype=np.bool_)
        self._swivel = np.zeros(capacity)
        self._newest = -1
        self._count = 0

    def set(self, name: str, delay_s: float = 0.0, max_delay_s: float = 3.0,
            rate_hz: float = 90.0, motion: MotionRecording | None = None) -> None:
        """Start condition ``name`` (allocates its buffers)."""
        if name not in CONDITIONS:
            raise ConditionError(f"study: condition {str(name)[:40]!r} is not one of "
                                 f"{', '.join(CONDITIONS)}")
        if name == "delayed" and not (isinstance(delay_s, (int, float)) and
                                      0.0 < delay_s <= max_delay_s):
            raise ConditionError(f"study: delay {delay_s!r} s must be above 0 and at most "
                                 f"{max_delay_s:g} s")
        if name == "replay":
            if motion is None:
                raise ConditionError("study: the replay condition needs a recorded motion")
            motion.check()
        self.name, self.delay_s, self.motion = name, float(delay_s), motion
        self.shown = name != "imagery"
        self.started_t = math.nan
        self._captured = False
        # a frame or two of headroom above the display rate (a runtime may pace faster)
        capacity = int(math.ceil(delay_s * rate_hz * 1.5)) + 4 if name == "delayed" else 1
        self._alloc(capacity)

    def apply(self, core, t: float, visible: float) -> None:
        """Replace the phantom's mirrored inputs on ``core`` for this frame at time ``t``."""
        ph = core.phantom
        self.swivel = core.intact.swivel
        self.hand_tracked = core.hand_tracked if self.limb == "arm" else False
        if math.isnan(self.started_t):
            self.started_t = t
        name = self.name
        if name == "mirror" or name == "imagery":
            return
        if name == "delayed":
            k = (self._newest + 1) % self.capacity
            self._store(k, ph, t)
            self._newest, self._count = k, min(self._count + 1, self.capacity)
            self._load(delayed_index(self._t, k, self._count, t - self.delay_s + _EPS_S), ph)
        elif name == "frozen":
            if not self._captured and visible > 0.0:
                self._store(0, ph, t)
                self._captured = True
            if self._captured:
                self._load(0, ph)
        else:
            m = self.motion
            u = (t - self.started_t) % m.duration
            i = min(int(np.searchsorted(m.t, u, side="right")) - 1, len(m.t) - 1)
            to_world_kernel(m.local[max(i, 0)], core.torso.pose, ph.target)
            if self.limb == "arm":
                ph.curls[:] = m.curls[i]
            else:
                ph.toe_curl[:] = m.curls[i]
            self.swivel = float(m.swivel[i])
            self.hand_tracked = False

    def _store(self, k: int, ph, t: float) -> None:
        self._t[k] = t
        self._target[k] = ph.target
        self._swivel[k] = self.swivel
        if self.limb == "arm":
            self._curls[k] = ph.curls
            self._hands[k] = ph.hand_joints
            self._tracked[k] = self.hand_tracked
        else:
            self._curls[k] = ph.toe_curl

    def _load(self, k: int, ph) -> None:
        ph.target[:] = self._target[k]
        self.swivel = float(self._swivel[k])
        if self.limb == "arm":
            ph.curls[:] = self._curls[k]
            ph.hand_joints[:] = self._hands[k]
            self.hand_tracked = bool(self._tracked[k])
        else:
            ph.toe_curl[:] = self._curls[k]

    def as_dict(self) -> dict:
        """The condition's parameters (unblinded: records only, never the companion)."""
        out: dict = {"condition": self.name}
        if self.name == "delayed":
            out["delay_s"] = self.delay_s
        if self.name == "replay" and self.motion is not None:
            out["motion_s"] = round(self.motion.duration, 3)
        return out


def warmup() -> None:
    """Compile (or load from the cache) the condition kernels."""
    pose = np.array([0.1, 0.2, 0.3, 0.0, 0.0, 0.0, 1.0])
    out = np.zeros(7)
    to_local_kernel(pose, pose, out)
    to_world_kernel(out, pose, out)
    delayed_index(np.zeros(3), 1, 2, 0.0)
