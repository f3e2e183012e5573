"""Did the seated body turn? The evidence a headset and one tracked limb can give.

Without a waist or chest tracker the body frame (``vrgmi.body.torso``) never moves by itself:
a head turn and a chair turn look the same to the headset alone, and swinging the mirror image
with the gaze is the worst error there is (the patient looks at the phantom, the phantom
leaves). This detector only *suspects* a turn, for the therapist to confirm with a recenter:

* **the whole visible body rotated as one**: over the last ``turn_window_s`` the head's yaw
  changed by at least ``turn_min_deg`` and the horizontal vector from the neck pivot to the
  intact hand (or foot) turned by the same angle, within ``turn_fit_m`` and at most half the
  misfit of "only the head turned" (a rigid rotation about any vertical axis turns every
  vector between two body points by its angle; a head turn leaves that vector alone);
* **intact limb not tracked: the neck moved on a chair's arc**: the neck pivot (which a head
  turn leaves in place) moved at least ``arc_min_m``, level, as a rotation by the head's yaw
  change about an axis at most ``axis_max_m`` away would move it;
* **the head held far off**: at least ``held_yaw_deg`` off the body's forward for ``held_s``.

Each detection adds its angle to the suspected turn (a turn back cancels it); the flag is up
while the suspected turn is at least ``turn_min_deg``, until a recenter. A detection is judged
once the head has come to rest (within ``STEADY_DEG`` over ``STEADY_S``), sampled at
``SAMPLE_HZ`` into a preallocated ring; one njit call per frame.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from vrgmi.settings import BodySettings

#: the detector samples the head, neck and intact limb this often (Hz)
SAMPLE_HZ = 10.0
#: the head has come to rest when its yaw changed less than this ...
STEADY_DEG = 3.0
#: ... over this long (s)
STEADY_S = 0.2
#: a chair turn keeps the neck's height: it may change at most this much (m)
LEVEL_M = 0.03

#: why a turn is suspected (``TurnDetector.evidence``)
EVIDENCE = ("", "limb", "neck", "held")
EV_NONE, EV_SUSPECTED, EV_CLEARED = 0, 1, 2

(P_MIN, P_FIT, P_ARC, P_AXIS, P_HELD_YAW, P_HELD_S, P_SAMPLE, P_STEADY, P_STEADY_N, P_LEVEL,
 P_COUNT) = range(11)
S_TIMER, S_COUNT, S_INDEX, S_SUSPECTED, S_FLAG, S_HELD, S_EVIDENCE, S_N = range(8)
C_YAW, C_NX, C_NY, C_NZ, C_PX, C_PY, C_PV, C_N = range(8)


@njit(cache=True)
def _wrap(a):
    return (a + np.pi) % (2.0 * np.pi) - np.pi


@njit(cache=True)
def turn_kernel(head_yaw, neck, point, point_valid, body_yaw, dt, prm, st, ring):
    """One frame of the detector (see the module docstring); returns EV_NONE, EV_SUSPECTED
    (the flag went up) or EV_CLEARED (a turn back took it down)."""
    event = EV_NONE
    off = _wrap(head_yaw - body_yaw)
    if off == off and abs(off) >= prm[P_HELD_YAW]:
        st[S_HELD] += dt
    else:
        st[S_HELD] = 0.0
    if st[S_FLAG] == 0.0 and st[S_HELD] >= prm[P_HELD_S]:
        st[S_SUSPECTED], st[S_FLAG], st[S_EVIDENCE] = off, 1.0, 3.0
        event = EV_SUSPECTED
    st[S_TIMER] += dt
    if st[S_TIMER] < prm[P_SAMPLE]:
        return event
    st[S_TIMER] = min(st[S_TIMER] - prm[P_SAMPLE], prm[P_SAMPLE])
    n = ring.shape[0]
    i = int(st[S_INDEX])
    row = ring[i]
    row[C_YAW], row[C_NX], row[C_NY], row[C_NZ] = head_yaw, neck[0], neck[1], neck[2]
    row[C_PX], row[C_PY], row[C_PV] = point[0], point[1], 1.0 if point_valid else 0.0
    st[S_INDEX] = (i + 1) % n
    st[S_COUNT] = min(st[S_COUNT] + 1.0, n)
    count = int(st[S_COUNT])
    steady_n = int(prm[P_STEADY_N])
    if count <= steady_n or head_yaw != head_yaw:
        return event
    old = ring[(i - count + 1) % n]
    recent = ring[(i - steady_n) % n][C_YAW]
    if not abs(_wrap(head_yaw - recent)) <= prm[P_STEADY]:
        return event                                   # still turning (or NaN): wait
    theta = _wrap(head_yaw - old[C_YAW])
    if not abs(theta) >= prm[P_MIN]:
        return event
    c, s = np.cos(theta), np.sin(theta)
    evidence = 0
    if point_valid and old[C_PV] != 0.0:
        v0x, v0y = old[C_PX] - old[C_NX], old[C_PY] - old[C_NY]
        v1x, v1y = point[0] - neck[0], point[1] - neck[1]
        rigid = np.hypot(v1x - (c * v0x - s * v0y), v1y - (s * v0x + c * v0y))
        still = np.hypot(v1x - v0x, v1y - v0y)
        if rigid <= prm[P_FIT] and rigid <= 0.5 * still:
            evidence = 1
    elif not point_valid:
        d = np.hypot(neck[0] - old[C_NX], neck[1] - old[C_NY])
        radius = d / (2.0 * np.sin(0.5 * abs(theta)))
        if d >= prm[P_ARC] and radius <= prm[P_AXIS] and abs(neck[2] - old[C_NZ]) <= prm[P_LEVEL]:
            evidence = 2
    if evidence == 0:
        return event
    st[S_SUSPECTED] = _wrap(st[S_SUSPECTED] + theta)
    ring[0] = row                                      # judged: start a new window here
    st[S_INDEX], st[S_COUNT] = 1.0, 1.0
    was = st[S_FLAG]
    st[S_FLAG] = 1.0 if abs(st[S_SUSPECTED]) >= prm[P_MIN] else 0.0
    if st[S_FLAG] != 0.0 and was == 0.0:
        st[S_EVIDENCE] = evidence
        return EV_SUSPECTED
    if st[S_FLAG] == 0.0 and was != 0.0:
        st[S_EVIDENCE] = 0.0
        return EV_CLEARED
    return event


class TurnDetector:
    """The trackerless turn suspicion of one body frame (preallocated; see the module)."""

    def __init__(self, body: BodySettings) -> None:
        self.params = np.zeros(P_COUNT)
        p = self.params
        p[P_MIN], p[P_FIT] = np.radians(body.turn_min_deg), body.turn_fit_m
        p[P_ARC], p[P_AXIS] = body.arc_min_m, body.axis_max_m
        p[P_HELD_YAW], p[P_HELD_S] = np.radians(body.held_yaw_deg), body.held_s
        p[P_SAMPLE], p[P_STEADY] = 1.0 / SAMPLE_HZ, np.radians(STEADY_DEG)
        p[P_STEADY_N], p[P_LEVEL] = round(STEADY_S * SAMPLE_HZ), LEVEL_M
        self.state = np.zeros(S_N)
        self.ring = np.zeros((int(round(body.turn_window_s * SAMPLE_HZ)) + 1, C_N))

    def reset(self) -> None:
        """Forget everything (a recenter: the body frame is right again)."""
        self.state[:] = 0.0

    def update(self, head_yaw: float, neck: np.ndarray, point: np.ndarray, point_valid: bool,
               body_yaw: float, dt: float) -> int:
        """One frame; returns EV_NONE, EV_SUSPECTED or EV_CLEARED."""
        return turn_kernel(head_yaw, neck, point, point_valid, body_yaw, dt, self.params,
                           self.state, self.ring)

    @property
    def suspected(self) -> bool:
        """True while a turn is suspected (until a recenter or a turn back)."""
        return self.state[S_FLAG] != 0.0

    @property
    def angle(self) -> float:
        """The suspected turn (radians about +z; 0 when none)."""
        return float(self.state[S_SUSPECTED]) if self.suspected else 0.0

    @property
    def evidence(self) -> str:
        """What raised the flag: 'limb', 'neck', 'held' (or '' when none)."""
        return EVIDENCE[int(self.state[S_EVIDENCE])] if self.suspected else ""
