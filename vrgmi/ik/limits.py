"""Joint range-of-motion limits of the canonical RIGHT limb, in degrees, and the radian
arrays the IK kernels take.

Sources
-------
* **AAOS**: American Academy of Orthopaedic Surgeons normal values (Joint Motion: Method of
  Measuring and Recording, 1965; Greene & Heckman, The Clinical Measurement of Joint Motion,
  1994), as tabulated in Norkin & White, *Measurement of Joint Motion: A Guide to
  Goniometry*, appendix A.
* **Neumann**: D. A. Neumann, *Kinesiology of the Musculoskeletal System*, 2nd ed. (2010):
  knee axial rotation in 90 deg flexion, ~45 deg in all, external about twice internal.
* **eng.**: an engineering value where no single clinical number applies (a direction
  between two measured planes, a value relative to this model's rest pose); kept generous
  so that no everyday pose of a healthy limb is refused.

Angle conventions (all zero in the rest pose of ``vrgmi/body/skeleton.py``)
--------------------------------------------------------------------------
* Shoulder and hip are swing-twist joints. ``*_plane`` is the azimuth of the bone about the
  vertical torso axis (0 = lateral, +90 = forward, -90 = backward, +-180 = medial), ``*_elevation``
  its angle from hanging straight down, ``*_rotation`` the axial twist after that swing,
  internal rotation positive. The elevation limit depends on the plane: a "sinus" table of
  the largest elevation at 45 deg steps of plane, linearly interpolated
  (flexion = elevation in plane 90, abduction = plane 0, extension = plane -90,
  adduction = plane 180).
* Flexion positive at every hinge; pronation, ulnar deviation, inversion, MCP abduction away
  from the middle finger (index/middle radially, ring/little ulnarly) and thumb CMC palmar
  abduction positive. Thumb CMC angles are relative to the model's rest thumb ray, which is
  already ~25 deg palmar-abducted, so the AAOS 0-70 palmar abduction becomes -25..45.
"""
from __future__ import annotations

import numpy as np

from vrgmi.body.skeleton import FINGERS

#: One row per degree of freedom: (name, low deg, high deg, what the bounds are, source).
ARM_ROM: tuple[tuple[str, float, float, str, str], ...] = (
    ("shoulder_plane", -180.0, 180.0, "any plane; elevation limited per plane below", "-"),
    ("shoulder_elevation", 0.0, 180.0, "flexion 180, abduction 180, extension 60", "AAOS"),
    ("shoulder_rotation", -90.0, 100.0, "external 90; internal 70 at 90 abd, 100 admitted "
     "so the hand reaches the abdomen and back in adduction", "AAOS / eng."),
    ("elbow_flexion", 0.0, 150.0, "flexion 150", "AAOS"),
    ("forearm_pronation", -80.0, 80.0, "supination 80, pronation 80", "AAOS"),
    ("wrist_flexion", -70.0, 80.0, "extension 70, flexion 80", "AAOS"),
    ("wrist_ulnar_deviation", -20.0, 30.0, "radial 20, ulnar 30", "AAOS"),
    ("thumb_cmc_flexion", -20.0, 15.0, "extension 20, flexion 15", "AAOS"),
    ("thumb_cmc_abduction", -25.0, 45.0, "palmar abduction 70 from the adducted thumb", "AAOS"),
    ("thumb_mcp_flexion", 0.0, 50.0, "flexion 50", "AAOS"),
    ("thumb_ip_flexion", -20.0, 80.0, "hyperextension 20, flexion 80", "AAOS"),
) + tuple(
    row for f in FINGERS[1:] for row in (
        (f"{f}_mcp_flexion", -45.0, 90.0, "hyperextension 45, flexion 90", "AAOS"),
        (f"{f}_mcp_abduction", -10.0, 20.0, "abduction 20; adduction 10 past rest", "AAOS / eng."),
        (f"{f}_pip_flexion", 0.0, 100.0, "flexion 100", "AAOS"),
        (f"{f}_dip_flexion", -10.0, 90.0, "extension 10, flexion 90", "AAOS"),
    )
)

LEG_ROM: tuple[tuple[str, float, float, str, str], ...] = (
    ("hip_plane", -180.0, 180.0, "any plane; elevation limited per plane below", "-"),
    ("hip_elevation", 0.0, 120.0, "flexion 120, extension 30, abduction 45, adduction 30",
     "AAOS"),
    ("hip_rotation", -45.0, 45.0, "external 45, internal 45", "AAOS"),
    ("knee_flexion", 0.0, 135.0, "flexion 135", "AAOS"),
    ("knee_rotation", -30.0, 15.0, "tibial external 30, internal 15 at >= 90 deg knee "
     "flexion, scaled to 0 at full extension", "Neumann"),
    ("ankle_dorsiflexion", -50.0, 20.0, "plantarflexion 50, dorsiflexion 20", "AAOS"),
    ("subtalar_inversion", -15.0, 35.0, "eversion 15, inversion 35", "AAOS"),
    ("toe_flexion", -70.0, 45.0, "MTP extension 70, flexion 45 (great toe)", "AAOS"),
)

ARM_DOF_NAMES: tuple[str, ...] = tuple(r[0] for r in ARM_ROM)
LEG_DOF_NAMES: tuple[str, ...] = tuple(r[0] for r in LEG_ROM)

#: plane knots (deg) of the sinus tables; the last knot repeats the first (+-180 = medial)
SINUS_PLANES_DEG = np.arange(-180.0, 181.0, 45.0)
#: largest shoulder elevation per plane: medial (adduction across the trunk) 45 eng.,
#: extension 60 AAOS, posterior-lateral 100 (horizontal extension 45, AAOS) eng.,
#: abduction 180 AAOS, scapular plane 180, flexion 180 AAOS, antero-medial 135
#: (horizontal adduction 45 past forward, AAOS horizontal flexion 135) eng.
SHOULDER_SINUS_DEG = np.array([45.0, 45.0, 60.0, 100.0, 180.0, 180.0, 180.0, 135.0, 45.0])
#: largest hip elevation per plane: adduction 30 AAOS, extension 30 AAOS, abduction 45
#: AAOS, flexion 120 AAOS; the flexed diagonals (abduction and adduction in flexion, seated
#: knees apart / crossed) 90 eng.
HIP_SINUS_DEG = np.array([30.0, 30.0, 30.0, 35.0, 45.0, 90.0, 120.0, 90.0, 30.0])

#: knee flexion (deg) from which tibial axial rotation has its full range
KNEE_ROTATION_FULL_FLEXION_DEG = 90.0


def limits_radians(rom: tuple[tuple[str, float, float, str, str], ...]) -> np.ndarray:
    """(D, 2) float64 [low, high] radians of a ROM table, the kernels' limit array."""
    return np.radians(np.array([(r[1], r[2]) for r in rom], dtype=np.float64))


def sinus_radians(table_deg: np.ndarray) -> np.ndarray:
    """(2, K) float64: plane knots and largest elevation per knot, radians."""
    return np.radians(np.stack([SINUS_PLANES_DEG, np.asarray(table_deg, dtype=np.float64)]))


def sinus_boundary(sinus: np.ndarray, samples: int = 144) -> np.ndarray:
    """(samples, 3) unit bone directions on the sinus boundary (a closed loop), in torso
    axes, for the kernels' nearest-allowed-direction projection."""
    phi = np.linspace(-np.pi, np.pi, samples, endpoint=False)
    theta = np.interp(phi, sinus[0], sinus[1])
    return np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi),
                     -np.cos(theta)], axis=1)


def sinus_max(sinus: np.ndarray, plane: float | np.ndarray) -> float | np.ndarray:
    """Largest allowed elevation (rad) for a plane angle (rad), as the kernels compute it."""
    return np.interp(plane, sinus[0], sinus[1])


def knee_rotation_limits(knee_flexion: float, limits: np.ndarray) -> tuple[float, float]:
    """Tibial rotation limits (rad) at a knee flexion (rad): full at >= 90 deg, 0 when straight."""
    row = LEG_DOF_NAMES.index("knee_rotation")
    s = min(1.0, max(0.0, knee_flexion / np.radians(KNEE_ROTATION_FULL_FLEXION_DEG)))
    return float(limits[row, 0] * s), float(limits[row, 1] * s)


ARM_LIMITS = limits_radians(ARM_ROM)
LEG_LIMITS = limits_radians(LEG_ROM)
SHOULDER_SINUS = sinus_radians(SHOULDER_SINUS_DEG)
HIP_SINUS = sinus_radians(HIP_SINUS_DEG)
