"""A decoded signal driving the phantom's grip, wrist rotation or ankle flexion
(docs/research.md, "Phantom motor execution").

After the phantom's IK has solved the mirrored pose, each driven degree of freedom is set
to ``(1 - w) * mirrored + w * decoded`` and the limb is posed again from its joint angles
(forward kinematics), so what the rig shows, the scenes score and the limb stream sends is
one pose. ``decoded`` is the channel's value mapped linearly from ``[low, high]`` onto the
joint's range (``vrgmi.ik.limits``: forearm supination..pronation, ankle
plantarflexion..dorsiflexion) or onto open..fist for the grip, clipped, and smoothed with
``drive_smoothing_s``. ``w`` is ``drive_blend`` (blend) or 1 (replace), times the stream's
presence: presence ramps to 1 over ``drive_fade_s`` while samples arrive and back to 0 once
none came for ``drive_timeout_s``, so a lost stream fades to the mirrored pose and a found
one fades in: never a jump. NumPy only; the LSL inlet is :mod:`.drive_inlet`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from vrgmi.errors import SettingsError
from vrgmi.ik.kernels import FINGER_DOF0, G_FIST
from vrgmi.ik.limits import ARM_DOF_NAMES, LEG_DOF_NAMES
from vrgmi.settings import LslSettings

#: the degrees of freedom a drive stream may move, per limb
LIMB_DOFS = {"arm": ("grip", "wrist"), "leg": ("ankle",)}
#: finger joint angles of the five fingers (thumb first), four each
_FINGERS = slice(FINGER_DOF0, FINGER_DOF0 + 20)


class DriveSource(Protocol):
    """Where decoded samples come from (the LSL inlet, :class:`.drive_inlet.LslDriveSource`)."""

    def read(self, out: np.ndarray) -> float:
        """Copy the latest sample's first ``len(out)`` channels into ``out``; return its age
        in seconds (``inf`` when there is none, or the stream has too few channels)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DofMap:
    """One driven degree of freedom: which channel, how it joins the mirror, its range."""

    dof: str              # grip | wrist | ankle
    channel: int
    replace: bool
    low: float            # channel value at the range's start (open / supinated / plantar)
    high: float           # ... and at its end (fist / pronated / dorsiflexed)


def dof_maps(lsl: LslSettings, limb: str) -> list[DofMap]:
    """The driven degrees of freedom of ``limb`` from the ``[lsl]`` settings (those with a
    channel); one-line :class:`SettingsError` for an empty range."""
    maps = []
    for dof in LIMB_DOFS[limb]:
        channel = getattr(lsl, f"{dof}_channel")
        if channel < 0:
            continue
        low, high = getattr(lsl, f"{dof}_low"), getattr(lsl, f"{dof}_high")
        if low == high:
            raise SettingsError(f"settings: lsl.{dof}_low and lsl.{dof}_high are both {low:g}; "
                                "they must differ (the channel's range)")
        maps.append(DofMap(dof, channel, getattr(lsl, f"{dof}_mode") == "replace", low, high))
    return maps


class PhantomDrive:
    """Moves the phantom's driven degrees of freedom after each solve (see the module)."""

    def __init__(self, lsl: LslSettings, limb: str, source: DriveSource) -> None:
        self.maps = dof_maps(lsl, limb)
        self.source = source
        self.timeout_s = lsl.drive_timeout_s
        self.fade_s = lsl.drive_fade_s
        self.smoothing_s = lsl.drive_smoothing_s
        names = ARM_DOF_NAMES if limb == "arm" else LEG_DOF_NAMES
        self._joint = {"wrist": names.index("forearm_pronation") if limb == "arm" else -1,
                       "ankle": names.index("ankle_dorsiflexion") if limb == "leg" else -1}
        self._sample = np.zeros(1 + max((m.channel for m in self.maps), default=0))
        self._fingers = np.zeros(20)              # scratch: the grip's finger angles
        self._share = np.array([1.0 if m.replace else lsl.drive_blend for m in self.maps])
        #: each driven degree of freedom's decoded value, 0..1 along its range (smoothed)
        self.decoded = np.zeros(len(self.maps))
        #: each one's weight this frame: 0 = the mirror, 1 = the decoded value alone
        self.weights = np.zeros(len(self.maps))
        #: 0..1: how much the stream counts now (fades in and out)
        self.presence = 0.0
        #: age (s) of the latest sample at the last frame (inf: none yet)
        self.age_s = math.inf

    @property
    def state(self) -> str:
        """The stream as the companion shows it: ``waiting`` (no sample yet, or too few
        channels), ``fading_in``, ``connected``, ``fading`` (lost, fading to the mirror),
        ``lost`` (the phantom mirrors)."""
        if self.age_s <= self.timeout_s:
            return "connected" if self.presence >= 1.0 else "fading_in"
        if self.presence > 0.0:
            return "fading"
        return "waiting" if math.isinf(self.age_s) else "lost"

    def value(self, dof: str) -> float:
        """The decoded value (0..1 along the range) of ``dof``; NaN when it is not driven."""
        for i, m in enumerate(self.maps):
            if m.dof == dof:
                return float(self.decoded[i])
        return math.nan

    def apply(self, core: Any, dt: float) -> None:
        """Blend the decoded values into the solved phantom of ``core`` (the
        :class:`~vrgmi.core.CorePipeline`) and pose it again from its angles, with the
        geometry of the phantom shaper's solver while shaping is active (telescoped
        segments, :mod:`vrgmi.body.shaping`)."""
        if not self.maps:
            return
        self.age_s = age = self.source.read(self._sample)
        fresh = age <= self.timeout_s
        if fresh:
            a = 1.0 - math.exp(-dt / self.smoothing_s) if self.smoothing_s > 0.0 else 1.0
            for i, m in enumerate(self.maps):
                x = (self._sample[m.channel] - m.low) / (m.high - m.low)
                x = min(1.0, max(0.0, x))
                # from nothing, start at the value (the weight is 0 then, so nothing jumps)
                self.decoded[i] = x if self.presence == 0.0 else \
                    self.decoded[i] + a * (x - self.decoded[i])
        step = dt / self.fade_s
        self.presence = min(1.0, self.presence + step) if fresh else \
            max(0.0, self.presence - step)
        np.multiply(self._share, self.presence, out=self.weights)
        if self.presence == 0.0:
            return
        solver, side = core.phantom, core.amputated
        angles, limits = solver.angles, solver.limits
        for i, m in enumerate(self.maps):
            w, x = self.weights[i], self.decoded[i]
            if m.dof == "grip":
                f = self._fingers
                np.multiply(solver.geometry[G_FIST:G_FIST + 20], x, out=f)
                f -= angles[_FINGERS]
                f *= w
                angles[_FINGERS] += f
            else:
                j = self._joint[m.dof]
                lo, hi = limits[j]
                angles[j] += w * (lo + x * (hi - lo) - angles[j])
        shaper = getattr(core, "shaper", None)
        if shaper is None or not shaper.active:
            solver.forward(angles, side)
            return
        poser = shaper.solver
        poser.torso[:] = solver.torso
        poser.root[:] = solver.root
        poser.forward(angles, side)
        solver.positions[:] = poser.positions
        solver.rotations[:] = poser.rotations
