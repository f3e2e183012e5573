"""Procedural limb meshes: signed distance fields, meshing, skin weights, mirroring.

Math core (NumPy, no rendering imports). The shape of a limb is a signed distance field
(negative inside) built from rounded cones and ellipsoids joined by polynomial smooth
unions; :func:`mesh_sdf` turns it into triangles with marching cubes (scikit-image) and
quadric decimation (pymeshlab). Those two libraries are needed only to *generate* the
models (``tools/make_limbs.py``) and are imported lazily; the engine needs only
:func:`mirror_mesh` and the skinning helpers.

All coordinates here are limb-local engine axes (x right, y forward, z up, metres, root
joint at the origin); ``tools/make_limbs.py`` converts to glTF's Y-up when writing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vrgmi.errors import VrgmiError

#: value standing for "far outside" where a node's bounding box culls its evaluation
FAR = 1.0e3


class LimbMeshError(VrgmiError, ValueError):
    """Bad input to a limb-mesh function (shapes, counts, degenerate geometry)."""


# ---------------------------------------------------------------- SDF nodes


def axis_frame(axis: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Rotation matrix whose columns are (side', axis x side', axis): a right-handed frame
    with local z along ``axis`` and local x along ``side`` made perpendicular to it."""
    z = axis / np.linalg.norm(axis)
    x = side - np.dot(side, z) * z
    n = np.linalg.norm(x)
    if n < 1e-9:
        raise LimbMeshError("a shape's side vector is parallel to its axis")
    x = x / n
    return np.column_stack([x, np.cross(z, x), z])


class Node:
    """A signed distance field node. ``lo``/``hi`` bound the region where it is negative."""

    lo: np.ndarray
    hi: np.ndarray
    #: how much the node's distance estimate may fall short of the true distance (>= 1)
    slack: float = 1.0

    def distance(self, p: np.ndarray, need: float) -> np.ndarray:
        """Signed distance at points ``p`` (N, 3), exact (to ~1e-9 m) wherever it is below
        ``need``: points farther than that (times the node's slack) outside its bounding
        box get :data:`FAR` instead, which skips evaluating far-away shapes."""
        m = need * self.slack
        inside = np.all((p >= self.lo - m) & (p <= self.hi + m), axis=1)
        if inside.all():
            return self._eval(p, need)
        out = np.full(len(p), FAR)
        if inside.any():
            out[inside] = self._eval(p[inside], need)
        return out

    def _eval(self, p: np.ndarray, need: float) -> np.ndarray:
        raise NotImplementedError


class Cone(Node):
    """Rounded cone from ``a`` (radius ``ra``) to ``b`` (radius ``rb``): the exact SDF of
    I. Quilez's sdRoundCone, with an optional elliptical cross-section: radii are scaled by
    ``scale[0]`` along ``side`` (made perpendicular to the axis) and by ``scale[1]`` along
    axis x side."""

    def __init__(self, a, b, ra: float, rb: float, side=(1.0, 0.0, 0.0), scale=(1.0, 1.0)):
        self.a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        axis = b - self.a
        self.length = float(np.linalg.norm(axis))
        if self.length <= abs(ra - rb) or min(ra, rb) <= 0.0:
            raise LimbMeshError(f"cone {self.a}->{b} is too short for radii {ra}, {rb}")
        side = np.asarray(side, dtype=np.float64)
        if abs(np.dot(side, axis)) > 0.999 * np.linalg.norm(side) * self.length:
            side = np.array([0.0, 1.0, 0.0]) if abs(axis[0]) > 0.0 else np.array([1.0, 0, 0])
        self.rot = axis_frame(axis, side)
        self.ra, self.rb = float(ra), float(rb)
        self.scale = np.array([scale[0], scale[1], 1.0])
        self.slack = float(self.scale.max() / self.scale.min())
        ext = max(ra, rb) * max(scale[0], scale[1], 1.0)
        self.lo = np.minimum(self.a, b) - ext
        self.hi = np.maximum(self.a, b) + ext

    def _eval(self, p, need):
        q = ((p - self.a) @ self.rot) / self.scale
        s = min(self.scale[0], self.scale[1])
        return _round_cone_z(q, self.length, self.ra, self.rb) * s


def _round_cone_z(q: np.ndarray, length: float, r1: float, r2: float) -> np.ndarray:
    """sdRoundCone with a = origin, b = (0, 0, length)."""
    l2 = length * length
    rr = r1 - r2
    a2 = l2 - rr * rr
    y = q[:, 2] * length
    z = y - l2
    x2 = (q[:, 0] ** 2 + q[:, 1] ** 2) * l2 * l2
    y2 = y * y * l2
    z2 = z * z * l2
    k = np.sign(rr) * rr * rr * x2
    d_mid = (np.sqrt(x2 * a2 / l2) + y * rr) / l2 - r1
    d_b = np.sqrt(x2 + z2) / l2 - r2
    d_a = np.sqrt(x2 + y2) / l2 - r1
    return np.where(np.sign(z) * a2 * z2 > k, d_b, np.where(np.sign(y) * a2 * y2 < k, d_a, d_mid))


class Ellipsoid(Node):
    """Ellipsoid with semi-axes ``radii`` along the columns of ``axes`` (a rotation matrix;
    identity = world axes), I. Quilez's bound approximation of its distance."""

    def __init__(self, center, radii, axes=None):
        self.c = np.asarray(center, dtype=np.float64)
        self.r = np.asarray(radii, dtype=np.float64)
        self.rot = np.eye(3) if axes is None else np.asarray(axes, dtype=np.float64)
        ext = np.sqrt((self.rot ** 2) @ (self.r ** 2))
        self.slack = float(self.r.max() / self.r.min())
        self.lo, self.hi = self.c - ext, self.c + ext

    def _eval(self, p, need):
        q = (p - self.c) @ self.rot
        k0 = np.linalg.norm(q / self.r, axis=1)
        k1 = np.maximum(np.linalg.norm(q / (self.r * self.r), axis=1), 1e-12)
        return k0 * (k0 - 1.0) / k1


class HalfSpace(Node):
    """Everything on the side of the plane through ``point`` opposite to ``normal``."""

    def __init__(self, point, normal):
        self.p0 = np.asarray(point, dtype=np.float64)
        n = np.asarray(normal, dtype=np.float64)
        self.n = n / np.linalg.norm(n)
        self.lo = np.full(3, -np.inf)
        self.hi = np.full(3, np.inf)

    def _eval(self, p, need):
        return (p - self.p0) @ self.n


#: a child farther than this many exponential blend lengths adds < 1e-9 relative
_REACH = 21.0


def smin(d: np.ndarray, k: float) -> np.ndarray:
    """Smooth minimum over the last axis of ``d``: exponential (log-sum-exp), so it is
    associative, symmetric and infinitely smooth. ``k`` is the blend radius: two surfaces
    meeting at equal distance are pulled out by k/4, as with the quadratic polynomial
    smooth minimum of the same k (0 = plain min)."""
    m = d.min(axis=-1)
    if k <= 0.0:
        return m
    ke = k / (4.0 * np.log(2.0))
    return m - ke * np.log(np.exp(-(d - m[..., None]) / ke).sum(axis=-1))


def _reach(k: float) -> float:
    """How far beyond the wanted band a blended child must still be exact."""
    return _REACH * k / (4.0 * np.log(2.0))


class Union(Node):
    """Smooth union of ``children`` (blend radius ``k``, see :func:`smin`)."""

    def __init__(self, children, k: float = 0.0):
        self.children = list(children)
        if not self.children:
            raise LimbMeshError("a union needs at least one shape")
        self.k = float(k)
        self.lo = np.min([c.lo for c in self.children], axis=0) - 0.25 * self.k
        self.hi = np.max([c.hi for c in self.children], axis=0) + 0.25 * self.k

    def _eval(self, p, need):
        n = need + _reach(self.k)
        return smin(np.stack([c.distance(p, n) for c in self.children], axis=-1), self.k)


class Intersect(Node):
    """Smooth intersection of ``children`` (blend radius ``k``)."""

    def __init__(self, children, k: float = 0.0):
        self.children = list(children)
        if not self.children:
            raise LimbMeshError("an intersection needs at least one shape")
        self.k = float(k)
        self.lo = np.max([c.lo for c in self.children], axis=0)
        self.hi = np.min([c.hi for c in self.children], axis=0)

    def _eval(self, p, need):
        n = need + _reach(self.k)
        return -smin(np.stack([-c.distance(p, n) for c in self.children], axis=-1), self.k)


class Subtract(Node):
    """``base`` with ``cutter`` carved away (smooth, blend radius ``k``)."""

    def __init__(self, base: Node, cutter: Node, k: float = 0.0):
        self.base, self.cutter, self.k = base, cutter, float(k)
        self.lo, self.hi = base.lo, base.hi

    def _eval(self, p, need):
        n = need + _reach(self.k)
        d = np.stack([-self.base.distance(p, n), self.cutter.distance(p, n)], axis=-1)
        return -smin(d, self.k)


class Offset(Node):
    """``child`` grown outward by ``r`` (shrunk for negative ``r``)."""

    def __init__(self, child: Node, r: float):
        self.child, self.r = child, float(r)
        self.lo, self.hi = child.lo - max(r, 0.0), child.hi + max(r, 0.0)

    def _eval(self, p, need):
        return self.child.distance(p, need + max(self.r, 0.0)) - self.r


def sdf(node: Node, points: np.ndarray, need: float = 0.01, chunk: int = 1 << 16) -> np.ndarray:
    """Signed distance of ``node`` at ``points`` (N, 3), exact where below ``need``
    (see :meth:`Node.distance`), evaluated in chunks to bound memory."""
    points = np.asarray(points, dtype=np.float64)
    out = np.empty(len(points))
    for i in range(0, len(points), chunk):
        out[i:i + chunk] = node.distance(points[i:i + chunk], need)
    return out


def sdf_gradient(node: Node, points: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Unit gradient (outward normal) of ``node`` at ``points`` by central differences."""
    g = np.empty((len(points), 3))
    for ax in range(3):
        dp = np.zeros(3)
        dp[ax] = eps
        g[:, ax] = sdf(node, points + dp) - sdf(node, points - dp)
    return g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)


# ---------------------------------------------------------------- meshing


@dataclass(frozen=True)
class Grid:
    """Sample lattice of :func:`mesh_sdf`: ``origin + index * h``."""
    origin: np.ndarray
    h: float
    shape: tuple[int, int, int]


def _upsample_linear(a: np.ndarray, factor: int) -> np.ndarray:
    """Trilinear upsampling by an integer factor: output index i maps to input i / factor."""
    for ax in range(3):
        n = a.shape[ax]
        t = np.arange((n - 1) * factor + 1) / factor
        i0 = np.minimum(t.astype(np.int64), n - 2)
        w = (t - i0).astype(a.dtype)
        shape = [1, 1, 1]
        shape[ax] = len(t)
        w = w.reshape(shape)
        a = np.take(a, i0, axis=ax) * (1 - w) + np.take(a, i0 + 1, axis=ax) * w
    return a


def sample_sdf(node: Node, h: float, pad: float = 0.006, coarse: int = 4) -> tuple[np.ndarray, Grid]:
    """Sample ``node`` on a lattice of spacing ``h`` covering its bounding box.

    Exact values are computed only in a narrow band around the surface found on a lattice
    ``coarse`` times coarser; elsewhere the coarse values (right in sign) are interpolated.
    """
    lo = node.lo - pad
    n_coarse = np.ceil((node.hi + pad - lo) / (h * coarse)).astype(int) + 1
    hc = h * coarse
    axes = [lo[i] + hc * np.arange(n_coarse[i]) for i in range(3)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    vc = sdf(node, pts, need=2.0 * hc).reshape(tuple(n_coarse)).astype(np.float32)
    fine = _upsample_linear(vc, coarse)
    band = np.abs(fine) < 1.8 * hc
    idx = np.argwhere(band)
    fine[band] = sdf(node, lo + idx * h, need=4.0 * h).astype(np.float32)
    return fine, Grid(lo, h, fine.shape)


def marching_cubes(values: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Triangles of the zero level set (outward winding: counter-clockwise seen from
    outside), vertices in the grid's coordinates. Needs scikit-image."""
    from skimage.measure import marching_cubes as _mc

    verts, faces, _, _ = _mc(values, level=0.0, spacing=(grid.h,) * 3, allow_degenerate=False)
    verts = verts.astype(np.float64) + grid.origin
    faces = faces.astype(np.int64)
    if signed_volume(verts, faces) < 0.0:
        faces = faces[:, ::-1].copy()
    return verts, faces


def largest_component(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the connected component with the most faces (drops specks), reindexed."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(verts)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    adj = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, label = connected_components(adj, directed=False)
    face_label = label[faces[:, 0]]
    keep = face_label == np.bincount(face_label).argmax()
    return compact(verts, faces[keep])


def compact(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop vertices no face uses; faces reindexed in the original vertex order."""
    used = np.zeros(len(verts), dtype=bool)
    used[faces.ravel()] = True
    remap = np.cumsum(used) - 1
    return verts[used], remap[faces]


def decimate(verts: np.ndarray, faces: np.ndarray, target_faces: int,
             importance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quadric edge-collapse decimation to ``target_faces`` (pymeshlab), keeping more
    triangles where the per-vertex ``importance`` (error weight, > 0) is high."""
    import pymeshlab

    ms = pymeshlab.MeshSet()
    ms.add_mesh(pymeshlab.Mesh(vertex_matrix=verts, face_matrix=faces.astype(np.int32),
                               v_scalar_array=np.asarray(importance, dtype=np.float64)))
    ms.meshing_decimation_quadric_edge_collapse(
        targetfacenum=int(target_faces), qualitythr=0.6, preserveboundary=True,
        preservenormal=True, preservetopology=True, optimalplacement=True,
        planarquadric=True, planarweight=0.002, qualityweight=True, autoclean=True)
    m = ms.current_mesh()
    return compact(m.vertex_matrix().astype(np.float64), m.face_matrix().astype(np.int64))


def project_to_surface(node: Node, verts: np.ndarray, steps: int = 3) -> np.ndarray:
    """Move vertices onto the zero level set along the field's gradient (Newton steps)."""
    v = verts.copy()
    for _ in range(steps):
        d = sdf(node, v)
        v -= d[:, None] * sdf_gradient(node, v)
    return v


def vertex_neighbours(faces: np.ndarray, n: int):
    """Sparse (n, n) adjacency matrix of the mesh edges (1 per edge, symmetric)."""
    from scipy.sparse import coo_matrix

    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1]])
    a = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    a.data[:] = 1.0
    return a


def relax(node: Node, verts: np.ndarray, faces: np.ndarray, iterations: int = 4,
          step: float = 0.5) -> np.ndarray:
    """Tangential Laplacian relaxation (evens out triangle shapes without changing the
    shape) followed by projection back onto the surface, repeated ``iterations`` times."""
    adj = vertex_neighbours(faces, len(verts))
    deg = np.asarray(adj.sum(axis=1)).ravel()
    v = verts.copy()
    for _ in range(iterations):
        n = sdf_gradient(node, v)
        lap = adj @ v / deg[:, None] - v
        lap -= np.sum(lap * n, axis=1, keepdims=True) * n
        v = project_to_surface(node, v + step * lap, steps=2)
    return v


def face_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit normals of the faces from their winding (counter-clockwise = front)."""
    t = verts[faces]
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)


def vertex_normals(node: Node, verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit vertex normals: the field's gradient (smooth shading true to the shape), or
    the area-weighted face normal where an adjacent face disagrees with the gradient
    (creases where the field's gradient jumps)."""
    n = sdf_gradient(node, verts)
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    mesh = np.zeros_like(verts)
    for k in range(3):
        np.add.at(mesh, faces[:, k], fn)
    mesh /= np.maximum(np.linalg.norm(mesh, axis=1, keepdims=True), 1e-30)
    agree = np.ones(len(verts))
    unit = fn / np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-30)
    for k in range(3):
        np.minimum.at(agree, faces[:, k], np.einsum("ij,ij->i", unit, n[faces[:, k]]))
    return np.where((agree < 0.1)[:, None], mesh, n)


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
