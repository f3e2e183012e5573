"""Limb inverse kinematics: Numba kernels, joint limits, ArmSolver / LegSolver (docs/ik.md)."""
from vrgmi.ik.limits import ARM_DOF_NAMES, LEG_DOF_NAMES
from vrgmi.ik.solver import ArmSolver, IKInputError, LegSolver, LimbSolver, warmup

__all__ = ["ARM_DOF_NAMES", "LEG_DOF_NAMES", "ArmSolver", "IKInputError", "LegSolver",
           "LimbSolver", "warmup"]
