"""Limb meshes: surface checks, skin weight handovers, linear blend skinning, refitting
the bind pose, mirroring.

Math core (NumPy, no rendering imports). The generator (``tools/make_limbs.py``) uses the
handovers and :func:`limit_influences`; the engine needs :func:`mirror_mesh` and the
skinning helpers; the tests check the shipped models with the rest.

All coordinates here are limb-local engine axes (x right, y forward, z up, metres, root
joint at the origin); ``tools/make_limbs.py`` converts to glTF's Y-up when writing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vrgmi.errors import VrgmiError


class LimbMeshError(VrgmiError, ValueError):
    """Bad input to a limb-mesh function (shapes, counts, degenerate geometry)."""


# ---------------------------------------------------------------- mesh checks


def face_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit normals of the faces from their winding (counter-clockwise = front)."""
    t = verts[faces]
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)


def signed_volume(verts: np.ndarray, faces: np.ndarray) -> float:
    """Volume enclosed by a closed mesh; positive when the faces wind outward."""
    t = verts[faces]
    return float(np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0)


def edge_manifold(faces: np.ndarray) -> bool:
    """True when every edge is shared by exactly two faces with opposite directions
    (a closed, consistently wound 2-manifold surface)."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    fwd = np.unique(e, axis=0, return_counts=True)
    if np.any(fwd[1] != 1):
        return False
    rev = {tuple(x) for x in e[:, ::-1]}
    return all(tuple(x) in rev for x in fwd[0])


# ---------------------------------------------------------------- skinning


def smoothstep(x: np.ndarray) -> np.ndarray:
    """C2 smoothstep (quintic) of x clamped to [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6.0 * x - 15.0) + 10.0)


@dataclass(frozen=True)
class JointBlend:
    """Where skin hands over from a parent bone to its child across a joint.

    The joint sits at ``center``; ``axis`` points along the parent bone toward the child.
    Around the limb the handover line is not flat: at ``inner`` (the side the joint bends
    toward, perpendicular to ``axis``) it is centred ``shift_inner`` metres along the
    axis from the joint with half-width ``width_inner``; on the opposite (outer) side
    ``shift_outer``/``width_outer``; on the two sides along the hinge axis
    ``shift_side``/``width_side``. Moving the outer handover away from the joint keeps
    the outside of a bent joint round under linear blend skinning (a 50/50 blend of two
    rotations by theta shrinks a point's distance to the joint by cos(theta/2)).
    """
    center: tuple[float, float, float]
    axis: tuple[float, float, float]
    inner: tuple[float, float, float]
    shift_inner: float
    width_inner: float
    shift_outer: float
    width_outer: float
    shift_side: float
    width_side: float

    def child_weight(self, p: np.ndarray) -> np.ndarray:
        """Weight of the child bone (0..1, smooth) at points ``p`` (N, 3)."""
        ax = np.asarray(self.axis, dtype=np.float64)
        ax = ax / np.linalg.norm(ax)
        inner = np.asarray(self.inner, dtype=np.float64)
        inner = inner - np.dot(inner, ax) * ax
        inner /= np.linalg.norm(inner)
        d = p - np.asarray(self.center)
        s = d @ ax
        radial = d - s[:, None] * ax
        rn = np.linalg.norm(radial, axis=1)
        cos_phi = np.where(rn > 1e-9, (radial @ inner) / np.maximum(rn, 1e-9), 0.0)
        w_in = np.maximum(cos_phi, 0.0) ** 2
        w_out = np.maximum(-cos_phi, 0.0) ** 2
        w_side = 1.0 - w_in - w_out
        shift = w_in * self.shift_inner + w_out * self.shift_outer + w_side * self.shift_side
        width = w_in * self.width_inner + w_out * self.width_outer + w_side * self.width_side
        return smoothstep((s - shift + width) / (2.0 * width))


def limit_influences(weights: np.ndarray, count: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Keep the ``count`` largest weights per vertex of a dense (N, J) weight matrix and
    renormalise: returns joint indices (N, count) uint8/uint16 and float32 weights whose
    float32 sums are 1 to rounding (unused slots: joint 0, weight 0)."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or np.any(weights < 0.0):
        raise LimbMeshError("weights must be a non-negative (vertices, joints) matrix")
    order = np.argsort(-weights, axis=1, kind="stable")[:, :count]
    w = np.take_along_axis(weights, order, axis=1)
    total = w.sum(axis=1, keepdims=True)
    if np.any(total <= 0.0):
        raise LimbMeshError(f"{int(np.sum(total <= 0.0))} vertices have no skin weight")
    w = w / total
    w[w < 1e-4] = 0.0
    w = (w / w.sum(axis=1, keepdims=True)).astype(np.float32)
    w[:, 0] += np.float32(1.0) - w.sum(axis=1, dtype=np.float32)
    order = np.where(w > 0.0, order, 0)
    dtype = np.uint8 if weights.shape[1] <= 256 else np.uint16
    return order.astype(dtype), w


def forward_kinematics(rest_joints: np.ndarray, parents, local_rotations: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """World delta rotations (J, 3, 3) and positions (J, 3) of a joint tree posed with
    ``local_rotations`` (J, 3, 3), each relative to its parent, from a bind pose whose
    joints carry translations only; parents come before their children (root: -1)."""
    rot = np.empty_like(local_rotations)
    pos = np.empty_like(rest_joints)
    for j, parent in enumerate(parents):
        if parent < 0:
            rot[j], pos[j] = local_rotations[j], rest_joints[j]
        else:
            rot[j] = rot[parent] @ local_rotations[j]
            pos[j] = pos[parent] + rot[parent] @ (rest_joints[j] - rest_joints[parent])
    return rot, pos


def skin_matrices(rest_joints: np.ndarray, world_rotations: np.ndarray,
                  world_positions: np.ndarray) -> np.ndarray:
    """(J, 4, 4) skinning matrices mapping rest-pose (bind) points to posed points, for
    joints at ``rest_joints`` (J, 3) that are posed at ``world_positions`` (J, 3) with
    world delta rotations ``world_rotations`` (J, 3, 3) from the bind pose."""
    m = np.zeros((len(rest_joints), 4, 4))
    m[:, :3, :3] = world_rotations
    m[:, :3, 3] = world_positions - np.einsum("jab,jb->ja", world_rotations, rest_joints)
    m[:, 3, 3] = 1.0
    return m


def linear_blend_skin(points: np.ndarray, joints: np.ndarray, weights: np.ndarray,
                      matrices: np.ndarray) -> np.ndarray:
    """Linear blend skinning of ``points`` (N, 3) with (N, K) joint indices and weights
    and (J, 4, 4) skinning matrices."""
    blend = np.einsum("nk,nkab->nab", weights.astype(np.float64), matrices[joints])
    return np.einsum("nab,nb->na", blend[:, :3, :3], points) + blend[:, :3, 3]


def refit_bind_pose(positions: np.ndarray, normals: np.ndarray, joints: np.ndarray,
                    weights: np.ndarray, rest_joints: np.ndarray, parents,
                    new_joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move a model's bind pose to new joint positions (a patient's segment lengths).

    Each bone's skin is stretched along the bone by the ratio of its new to its rest
    length; a bone with several children (wrist, ankle) scales uniformly by their mean
    ratio and passes that scale on to the bones below it (a bigger hand is also a wider
    one). The bones' maps are blended with the skin weights; every vertex keeps its
    weights. Returns
    the new positions and unit normals; the new inverse bind matrices are the
    translations by ``-new_joints``. Use this, not moved joints at draw time, to fit a
    patient: translating joints only would stretch just the narrow handover zones.
    """
    rest_joints = np.asarray(rest_joints, dtype=np.float64)
    new_joints = np.asarray(new_joints, dtype=np.float64)
    if new_joints.shape != rest_joints.shape:
        raise LimbMeshError(f"new_joints has shape {new_joints.shape}, expected "
                            f"{rest_joints.shape}")
    n = len(rest_joints)
    linear = np.tile(np.eye(3), (n, 1, 1))
    uniform = np.ones(n)
    for j, parent in enumerate(parents):
        kids = [c for c, p in enumerate(parents) if p == j
                and np.linalg.norm(rest_joints[c] - rest_joints[j]) > 1e-9]
        ratios = [np.linalg.norm(new_joints[c] - new_joints[j])
                  / np.linalg.norm(rest_joints[c] - rest_joints[j]) for c in kids]
        uniform[j] = float(np.mean(ratios)) if len(kids) > 1 else (
            uniform[parent] if parent >= 0 else 1.0)
        linear[j] *= uniform[j]
        if len(kids) == 1:
            d = rest_joints[kids[0]] - rest_joints[j]
            d /= np.linalg.norm(d)
            linear[j] += (ratios[0] - uniform[j]) * np.outer(d, d)
    mats = np.zeros((n, 4, 4))
    mats[:, :3, :3] = linear
    mats[:, :3, 3] = new_joints - np.einsum("jab,jb->ja", linear, rest_joints)
    mats[:, 3, 3] = 1.0
    out = linear_blend_skin(np.asarray(positions, dtype=np.float64), joints, weights, mats)
    blend = np.einsum("nk,nkab->nab", np.asarray(weights, dtype=np.float64), linear[joints])
    nrm = np.einsum("nba,nb->na", np.linalg.inv(blend), np.asarray(normals, dtype=np.float64))
    return out, nrm / np.linalg.norm(nrm, axis=1, keepdims=True)


# ---------------------------------------------------------------- mirroring


def mirror_mesh(positions: np.ndarray, normals: np.ndarray, indices: np.ndarray,
                joint_offsets: np.ndarray | None = None):
    """Mirror a limb mesh across its sagittal plane (x -> -x, the limb frame's x being
    the body's right axis): a right limb becomes the matching left one.

    Returns ``(positions, normals, indices, joint_offsets)``: positions and normals with x
    negated, triangle winding reversed (so front faces stay outward) and, when given, the
    joint translations (J, 3) with x negated (``None`` otherwise). Inputs are not changed.
    """
    positions = np.asarray(positions)
    normals = np.asarray(normals)
    indices = np.asarray(indices)
    if positions.ndim != 2 or positions.shape[1] != 3 or normals.shape != positions.shape:
        raise LimbMeshError(f"positions and normals must both be (N, 3); got "
                            f"{positions.shape} and {normals.shape}")
    flat = indices.reshape(-1)
    if flat.size % 3:
        raise LimbMeshError(f"indices hold {flat.size} entries, not a multiple of 3")
    if flat.size and (flat.min() < 0 or flat.max() >= len(positions)):
        raise LimbMeshError(f"indices refer to vertex {flat.max()} of {len(positions)}")
    flip = np.array([-1.0, 1.0, 1.0], dtype=positions.dtype)
    mirrored_offsets = None
    if joint_offsets is not None:
        joint_offsets = np.asarray(joint_offsets)
        if joint_offsets.ndim != 2 or joint_offsets.shape[1] != 3:
            raise LimbMeshError(f"joint_offsets must be (J, 3); got {joint_offsets.shape}")
        mirrored_offsets = joint_offsets * flip.astype(joint_offsets.dtype)
    tri = flat.reshape(-1, 3)[:, ::-1].reshape(indices.shape)
    return (positions * flip, normals * flip.astype(normals.dtype), np.ascontiguousarray(tri),
            mirrored_offsets)
