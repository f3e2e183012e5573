"""The seated patient's torso frame: follows chair turns and leaning, not glances and nods.

Torso frame: origin at the midpoint between the shoulder joints, x = the body's right axis,
y forward, z up (yaw only: pitch and roll are ignored). The sagittal plane is the plane
through the origin with normal x; mirroring happens in this frame (``vrgmi.body.mirror``).

Per frame (``update``), without a waist/chest tracker:

* the head's forward direction projected on the floor gives a measured yaw;
* the torso yaw stays put while the head is within ``deadband_deg`` of it (glances); once
  the head has been beyond the deadband for ``dwell_s`` (a chair turn, not a quick look)
  the torso yaw follows it with time constant ``yaw_tau_s`` until within ``settle_deg``;
* the neck pivot (a fixed point behind and below the eyes, so nods and head turns do not
  move it) gives the origin, which follows horizontally with time constant ``position_tau_s``
  (leaning); its height is fixed at the first frame, a calibration or a ``recenter``.

With a waist (or chest) tracker present at calibration, its yaw (plus the offset measured
at calibration) is followed directly with ``tracker_tau_s`` instead. Everything per frame
runs in one njit kernel on preallocated arrays.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from vrgmi.body.anthropometry import SegmentLengths
from vrgmi.body.hand import wrist_from_grip
from vrgmi.spatial import qrot_t
from vrgmi.body.skeleton import BodyModelError, side_index
from vrgmi.tracking.frame import TRACKER_INDEX, SIDES, TrackingFrame

#: the eyes (head pose origin) relative to the neck pivot, head-local axes (+y forward,
#: +z up): an estimate, only used so that nods and head turns leave the pivot in place
EYE_FROM_NECK = (0.09, 0.05)

# parameter vector indices
(P_DEADBAND, P_DWELL, P_YAW_TAU, P_SETTLE, P_POS_TAU, P_TRK_TAU, P_EYE_FWD, P_EYE_UP,
 P_OFF_Y, P_OFF_Z, P_SH_LAT, P_HIP_LAT, P_HIP_FWD, P_HIP_DROP, P_TRK_YAW, P_TRK_AXIS,
 P_COUNT) = range(17)
# state vector indices
S_INIT, S_YAW, S_OX, S_OY, S_OZ, S_FOLLOW, S_DWELL, S_COUNT = range(8)

_REFERENCE_ROLES = ("waist", "chest")


class CalibrationError(BodyModelError):
    """The calibration frames cannot give a plausible torso (one line, says what to do)."""


@njit(cache=True)
def _wrap(a):
    return (a + np.pi) % (2.0 * np.pi) - np.pi


@njit(cache=True)
def _head_yaw(head):
    """Yaw (about +z, 0 = facing +y) of the head's forward axis, NaN when it points nearly
    straight up or down."""
    fx, fy, _ = qrot_t(head[3], head[4], head[5], head[6], 0.0, 1.0, 0.0)
    if fx * fx + fy * fy < 0.09:
        return np.nan
    return np.arctan2(-fx, fy)


@njit(cache=True)
def _axis_yaw(pose, axis):
    """Yaw of local axis ``axis`` (0 x, 1 y, 2 z) of ``pose`` projected on the floor."""
    v0, v1, v2 = 0.0, 0.0, 0.0
    if axis == 0:
        v0 = 1.0
    elif axis == 1:
        v1 = 1.0
    else:
        v2 = 1.0
    fx, fy, _ = qrot_t(pose[3], pose[4], pose[5], pose[6], v0, v1, v2)
    if fx * fx + fy * fy < 0.09:
        return np.nan
    return np.arctan2(-fx, fy)


@njit(cache=True)
def _neck(head, prm):
    return qrot_t(head[3], head[4], head[5], head[6], 0.0, -prm[P_EYE_FWD], -prm[P_EYE_UP])


@njit(cache=True)
def torso_update_kernel(head, head_valid, ref, ref_valid, dt, snap, prm, st, pose, shoulders,
                        hips, normal):
    """One torso update (see the module docstring); writes ``pose`` (7,), ``shoulders``
    (2, 3), ``hips`` (2, 3) and the sagittal plane ``normal`` (3,)."""
    if head_valid:
        nx, ny, nz = _neck(head, prm)
        nx += head[0]
        ny += head[1]
        nz += head[2]
        fresh = snap or st[S_INIT] == 0.0
        measured = np.nan
        if ref_valid and prm[P_TRK_AXIS] >= 0.0:
            measured = _axis_yaw(ref, int(prm[P_TRK_AXIS])) + prm[P_TRK_YAW]
            if not fresh and measured == measured:
                err = _wrap(measured - st[S_YAW])
                st[S_YAW] = _wrap(st[S_YAW] + err * (1.0 - np.exp(-dt / prm[P_TRK_TAU])))
        else:
            measured = _head_yaw(head)
            if not fresh and measured == measured:
                err = _wrap(measured - st[S_YAW])
                if st[S_FOLLOW] == 0.0:
                    st[S_DWELL] = st[S_DWELL] + dt if abs(err) > prm[P_DEADBAND] else 0.0
                    if st[S_DWELL] >= prm[P_DWELL]:
                        st[S_FOLLOW] = 1.0
                if st[S_FOLLOW] != 0.0:
                    st[S_YAW] = _wrap(st[S_YAW] + err * (1.0 - np.exp(-dt / prm[P_YAW_TAU])))
                    if abs(err) < prm[P_SETTLE]:
                        st[S_FOLLOW] = 0.0
                        st[S_DWELL] = 0.0
        if fresh and measured == measured:
            st[S_YAW] = measured
            st[S_FOLLOW] = 0.0
            st[S_DWELL] = 0.0
        if fresh or measured == measured:
            c, s = np.cos(st[S_YAW]), np.sin(st[S_YAW])
            tx = nx - s * prm[P_OFF_Y]
            ty = ny + c * prm[P_OFF_Y]
            if fresh:
                st[S_OX], st[S_OY], st[S_OZ] = tx, ty, nz + prm[P_OFF_Z]
                st[S_INIT] = 1.0
            else:
                k = 1.0 - np.exp(-dt / prm[P_POS_TAU])
                st[S_OX] += (tx - st[S_OX]) * k
                st[S_OY] += (ty - st[S_OY]) * k
    # outputs (held when the head is lost)
    c, s = np.cos(st[S_YAW]), np.sin(st[S_YAW])
    pose[0], pose[1], pose[2] = st[S_OX], st[S_OY], st[S_OZ]
    pose[3], pose[4], pose[5], pose[6] = 0.0, 0.0, np.sin(0.5 * st[S_YAW]), np.cos(0.5 * st[S_YAW])
    normal[0], normal[1], normal[2] = c, s, 0.0
    for side in range(2):
        sign = 2.0 * side - 1.0
        lx = sign * prm[P_SH_LAT]
        shoulders[side, 0] = st[S_OX] + c * lx
        shoulders[side, 1] = st[S_OY] + s * lx
        shoulders[side, 2] = st[S_OZ]
        lx = sign * prm[P_HIP_LAT]
        ly = prm[P_HIP_FWD]
        hips[side, 0] = st[S_OX] + c * lx - s * ly
        hips[side, 1] = st[S_OY] + s * lx + c * ly
        hips[side, 2] = st[S_OZ] - prm[P_HIP_DROP]


class TorsoTracker:
    """Seated torso frame, shoulders, hips and sagittal plane, updated once per frame."""

    def __init__(self, lengths: SegmentLengths, *, deadband_deg: float = 35.0,
                 dwell_s: float = 0.5, yaw_tau_s: float = 0.5, settle_deg: float = 3.0,
                 position_tau_s: float = 1.5, tracker_tau_s: float = 0.1) -> None:
        checks = {"deadband_deg": (deadband_deg, 5.0, 90.0), "dwell_s": (dwell_s, 0.0, 5.0),
                  "yaw_tau_s": (yaw_tau_s, 0.05, 10.0), "settle_deg": (settle_deg, 0.5, 20.0),
                  "position_tau_s": (position_tau_s, 0.05, 30.0),
                  "tracker_tau_s": (tracker_tau_s, 0.01, 5.0)}
        for name, (v, lo, hi) in checks.items():
            if not lo <= v <= hi:
                raise BodyModelError(f"{name} = {v!r} is outside {lo:g}..{hi:g}")
        if settle_deg >= deadband_deg:
            raise BodyModelError("settle_deg must be smaller than deadband_deg")
        self.lengths = lengths
        self.params = np.zeros(P_COUNT)
        p = self.params
        p[P_DEADBAND], p[P_DWELL] = np.radians(deadband_deg), dwell_s
        p[P_YAW_TAU], p[P_SETTLE] = yaw_tau_s, np.radians(settle_deg)
        p[P_POS_TAU], p[P_TRK_TAU] = position_tau_s, tracker_tau_s
        self._defaults()
        self.state = np.zeros(S_COUNT)
        #: torso pose (7,): origin at the shoulder midpoint, yaw only
        self.pose = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
        self.shoulders = np.zeros((2, 3))
        self.hips = np.zeros((2, 3))
        self._normal = np.array([1.0, 0.0, 0.0])
        self._last_head = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
        self._have_head = False
        self._ref_index = -1
        self.calibrated = False

    def _defaults(self) -> None:
        L, p = self.lengths, self.params
        p[P_EYE_FWD], p[P_EYE_UP] = EYE_FROM_NECK
        p[P_OFF_Y] = 0.0
        p[P_OFF_Z] = -(L.eye_height_seated - L.shoulder_height_seated - EYE_FROM_NECK[1])
        p[P_SH_LAT] = 0.5 * L.shoulder_joint_spacing
        p[P_HIP_LAT] = 0.5 * L.hip_joint_spacing
        p[P_HIP_FWD] = 0.0
        p[P_HIP_DROP] = L.shoulder_height_seated - L.hip_height_seated
        p[P_TRK_YAW], p[P_TRK_AXIS] = 0.0, -1.0

    @property
    def initialized(self) -> bool:
        """True once a valid head pose has been seen (or after calibration)."""
        return self.state[S_INIT] != 0.0

    @property
    def yaw(self) -> float:
        """Torso yaw in radians about +z (0 = facing +y)."""
        return float(self.state[S_YAW])

    def update(self, frame: TrackingFrame, dt: float) -> np.ndarray:
        """Advance by ``dt`` seconds with this frame; returns :attr:`pose` (held while the
        head is not tracked). Allocates nothing."""
        if frame.head_valid:
            self._last_head[:] = frame.head
            self._have_head = True
        r = self._ref_index
        ref_ok = r >= 0 and bool(frame.tracker_valid[r])
        torso_update_kernel(frame.head, bool(frame.head_valid), frame.tracker[max(r, 0)],
                            ref_ok, float(dt), False, self.params, self.state, self.pose,
                            self.shoulders, self.hips, self._normal)
        return self.pose

    def recenter(self) -> None:
        """Snap the torso to the last tracked head now (yaw and position), no smoothing."""
        if not self._have_head:
            raise CalibrationError("cannot recenter: the headset has not been tracked yet")
        torso_update_kernel(self._last_head, True, self._last_head, False, 0.0, True,
                            self.params, self.state, self.pose, self.shoulders, self.hips,
                            self._normal)

    def shoulder(self, side: int | str) -> np.ndarray:
        """World position (3,) of the left/right shoulder joint (a view, updated in place)."""
        return self.shoulders[side_index(side)]

    def hip(self, side: int | str) -> np.ndarray:
        """World position (3,) of the left/right hip joint (a view, updated in place)."""
        return self.hips[side_index(side)]

    def sagittal_plane(self) -> tuple[np.ndarray, np.ndarray]:
        """(point, unit normal) of the body's midline plane; the normal is the right axis."""
        return self.pose[:3], self._normal

    def calibrate(self, frames: Sequence[TrackingFrame], posture: str = "arms_down") -> None:
        """Fix the torso from ~1-2 s of frames of the patient seated upright, looking ahead.

        ``posture`` 'arms_down' (arms hanging relaxed): each tracked controller gives its
        shoulder (wrist + upper arm + forearm straight up), hence the shoulder spacing and
        the shoulder height and depth below the neck. 'hands_on_knees': each tracked
        controller marks a knee, hence the hip spacing and depth (thigh level). Knee
        trackers, where present, mark the knees in either posture; a waist or chest tracker
        present throughout becomes the yaw reference. Raises CalibrationError (one line);
        a failed calibration leaves the previous one in force.
        """
        kept = self.params.copy(), self._ref_index
        try:
            self._calibrate(frames, posture)
        except CalibrationError:
            self.params[:], self._ref_index = kept
            raise

    def _calibrate(self, frames: Sequence[TrackingFrame], posture: str) -> None:
        if posture not in ("arms_down", "hands_on_knees"):
            raise CalibrationError(
                f"posture {posture!r} is not 'arms_down' or 'hands_on_knees'")
        heads = np.array([f.head for f in frames if f.head_valid])
        if len(heads) < 10:
            raise CalibrationError(
                f"calibration needs at least 10 frames with the headset tracked, got "
                f"{len(heads)}; record 1-2 s")
        if np.max(np.linalg.norm(heads[:, :3] - heads[:, :3].mean(axis=0), axis=1)) > 0.08:
            raise CalibrationError("the head moved more than 8 cm during calibration; sit "
                                   "still, upright, looking ahead, and try again")
        yaws = np.array([_head_yaw(h) for h in heads])
        if np.isnan(yaws).any():
            raise CalibrationError("look ahead (not up or down) during calibration")
        self._defaults()
        yaw = float(np.arctan2(np.sin(yaws).mean(), np.cos(yaws).mean()))
        necks = np.array([h[:3] + np.array(_neck(h, self.params)) for h in heads])
        neck = necks.mean(axis=0)
        c, s = np.cos(yaw), np.sin(yaw)

        def local(p: np.ndarray) -> np.ndarray:     # world point -> torso axes about the neck
            d = p - neck
            return np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2]])

        L, prm = self.lengths, self.params
        shoulder_pts, knee_pts = [], []
        for side in (0, 1):
            grips = [f.grip[side] for f in frames if f.grip_valid[side]]
            if len(grips) * 2 >= len(frames):
                grip = np.mean(grips, axis=0)
                grip[3:] /= np.linalg.norm(grip[3:])
                if posture == "arms_down":
                    wrist = wrist_from_grip(grip, side, np.zeros(7))
                    shoulder_pts.append((side, local(wrist[:3] + [0, 0, L.upper_arm + L.forearm])))
                else:
                    knee_pts.append((side, local(grip[:3])))
            role = TRACKER_INDEX[f"{SIDES[side]}_knee"]
            knees = [f.tracker[role, :3] for f in frames if f.tracker_valid[role]]
            if posture == "arms_down" and len(knees) * 2 >= len(frames):
                knee_pts.append((side, local(np.mean(knees, axis=0))))
        if shoulder_pts:
            lat = np.mean([abs(p[0]) for _, p in shoulder_pts])
            for side, p in shoulder_pts:
                if not (0.08 <= abs(p[0]) <= 0.30 and -0.45 <= p[2] <= -0.05):
                    raise CalibrationError(
                        f"the {SIDES[side]} controller puts the shoulder {abs(p[0]):.2f} m "
                        f"beside and {-p[2]:.2f} m below the neck (expected 0.08..0.30 and "
                        "0.05..0.45); sit upright, arms hanging relaxed, and try again")
            prm[P_SH_LAT] = lat
            prm[P_OFF_Y] = np.mean([p[1] for _, p in shoulder_pts])
            prm[P_OFF_Z] = np.mean([p[2] for _, p in shoulder_pts])
        for side, p in knee_pts:
            if not (0.04 <= abs(p[0]) <= 0.30 and 0.05 <= p[1] <= 0.9):
                raise CalibrationError(
                    f"the {SIDES[side]} knee is {abs(p[0]):.2f} m beside and {p[1]:.2f} m in "
                    "front of the neck (expected 0.04..0.30 and 0.05..0.90); sit upright with "
                    "the hands on the knees and try again")
        if knee_pts:
            prm[P_HIP_LAT] = np.mean([abs(p[0]) for _, p in knee_pts])
            prm[P_HIP_FWD] = np.mean([p[1] for _, p in knee_pts]) - L.thigh - prm[P_OFF_Y]
        self._ref_index = -1
        for role in _REFERENCE_ROLES:
            i = TRACKER_INDEX[role]
            if all(f.tracker_valid[i] for f in frames):
                ref = np.mean([f.tracker[i] for f in frames], axis=0)
                ref[3:] /= np.linalg.norm(ref[3:])
                axes = [abs(qrot_t(*ref[3:], *e)[2]) for e in np.eye(3)]
                axis = int(np.argmin(axes))           # the most horizontal local axis
                prm[P_TRK_AXIS] = axis
                prm[P_TRK_YAW] = yaw - _axis_yaw(ref, axis)
                self._ref_index = i
                break
        head = heads[-1].copy()
        head[3:] = [0.0, 0.0, np.sin(0.5 * yaw), np.cos(0.5 * yaw)]
        head[:3] = neck - np.array(_neck(head, prm))      # a level head at the mean neck
        self._last_head[:] = head
        self._have_head = True
        self.recenter()
        self.calibrated = True
