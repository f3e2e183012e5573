"""Cut a right arm or leg out of the MakeHuman base mesh, subdivide it and move it onto
vrgmi's rest-pose skeleton (docs/limb-rigs.md: "How the shape is made").

Steps: select the quads whose vertices the default rig weights mostly to the limb's bone
chain; keep the largest piece; subdivide once (Catmull-Clark for positions and skin
weights, linear for the UVs; the cut's rim stays put); close the rim with a fan; then
re-pose and re-proportion it: every MakeHuman bone gets an affine map that takes its head
and tail onto the vrgmi joints it stands for (a rotation, a stretch along the bone, a
uniform scale across it), and each vertex moves by its skin-weighted blend of those maps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from mpfb_source import BaseMesh, Bone


def engine_axes_obj(p: np.ndarray) -> np.ndarray:
    """base.obj (decimetres, Y up, +Z front, character's right = -X) -> engine (m, +X right,
    +Y forward, +Z up)."""
    return 0.1 * np.column_stack([-p[:, 0], p[:, 2], p[:, 1]])


@dataclass
class Piece:
    """A cut-out limb: quads (or the cap's triangles) with per-corner UVs and per-vertex
    dense weights over the chosen bone groups."""
    positions: np.ndarray          # (V, 3) engine axes
    weights: np.ndarray            # (V, G)
    quads: np.ndarray              # (F, 4)
    quad_uvs: np.ndarray           # (F, 4, 2)
    source: np.ndarray | None = None   # (V,) base-mesh vertex of each vertex (a cut's)


def dense_weights(mesh: BaseMesh, weights: dict, groups: dict[str, list[str]]) -> np.ndarray:
    """(V, G) weights of the base mesh summed per group, in the order of ``groups``; any
    weight on a bone outside every group goes to the first group (the limb's root)."""
    index = {bone: g for g, bones in enumerate(groups.values()) for bone in bones}
    out = np.zeros((len(mesh.positions), len(groups)))
    for bone, (vi, w) in sorted(weights.items()):
        np.add.at(out[:, index.get(bone, 0)], vi, w)
    return out


def cut(mesh: BaseMesh, w: np.ndarray, chain: np.ndarray) -> Piece:
    """The quads whose every vertex has at least half its weight on ``chain`` (a (V,)
    weight sum), largest connected piece only."""
    keep = np.all(chain[mesh.quads] >= 0.5, axis=1)
    quads, quad_uvs = mesh.quads[keep], mesh.quad_uvs[keep]
    used, inverse = np.unique(quads, return_inverse=True)
    quads = inverse.reshape(-1, 4)
    n = len(used)
    edges = np.concatenate([quads[:, [i, (i + 1) % 4]] for i in range(4)])
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    main = np.argmax(np.bincount(label))
    faces = label[quads[:, 0]] == main
    quads, quad_uvs = quads[faces], quad_uvs[faces]
    used2, inverse2 = np.unique(quads, return_inverse=True)
    total = w[used][used2].sum(axis=1, keepdims=True)
    return Piece(engine_axes_obj(mesh.positions[used][used2]), w[used][used2] / total,
                 inverse2.reshape(-1, 4), mesh.uvs[quad_uvs], used[used2])


def _edge_table(quads: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique undirected edges (E, 2), each quad side's edge number (F, 4), faces per edge."""
    sides = np.stack([quads, np.roll(quads, -1, axis=1)], axis=2).reshape(-1, 2)
    key = np.sort(sides, axis=1)
    edges, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return edges, inverse.reshape(-1, 4), counts


def subdivide(p: Piece) -> Piece:
    """One Catmull-Clark step (positions and weights); rim edges and vertices stay on the
    rim (midpoints, unmoved corners); UVs are interpolated linearly in each quad."""
    V, F = len(p.positions), len(p.quads)
    data = np.hstack([p.positions, p.weights])
    edges, side_edge, counts = _edge_table(p.quads)
    E = len(edges)
    face_pt = data[p.quads].mean(axis=1)
    # edge points: interior = average of the two ends and the two face points
    face_sum = np.zeros((E, data.shape[1]))
    np.add.at(face_sum, side_edge.ravel(), np.repeat(face_pt, 4, axis=0))
    mid = 0.5 * (data[edges[:, 0]] + data[edges[:, 1]])
    rim = counts == 1
    edge_pt = np.where(rim[:, None], mid, (data[edges[:, 0]] + data[edges[:, 1]] + face_sum)
                       / np.maximum(counts + 2, 1)[:, None])
    # vertex points: (F + 2R + (n - 3) P) / n
    n_faces = np.bincount(p.quads.ravel(), minlength=V).astype(np.float64)
    f_avg = np.zeros((V, data.shape[1]))
    np.add.at(f_avg, p.quads.ravel(), np.repeat(face_pt, 4, axis=0))
    f_avg /= n_faces[:, None]
    n_edges = np.bincount(edges.ravel(), minlength=V).astype(np.float64)
    r_avg = np.zeros((V, data.shape[1]))
    np.add.at(r_avg, edges[:, 0], mid)
    np.add.at(r_avg, edges[:, 1], mid)
    r_avg /= n_edges[:, None]
    on_rim = np.zeros(V, dtype=bool)
    on_rim[edges[rim].ravel()] = True
    n = n_faces[:, None]
    vert_pt = np.where(on_rim[:, None], data, (f_avg + 2.0 * r_avg + (n - 3.0) * data) / n)
    new = np.vstack([vert_pt, edge_pt, face_pt])
    # each quad (a, b, c, d) -> four quads around its face point
    quads, uvs = [], []
    fu = p.quad_uvs
    fc = fu.mean(axis=1)
    for i in range(4):
        prev = (i - 1) % 4
        quads.append(np.column_stack([p.quads[:, i], V + side_edge[:, i], V + E + np.arange(F),
                                      V + side_edge[:, prev]]))
        uvs.append(np.stack([fu[:, i], 0.5 * (fu[:, i] + fu[:, (i + 1) % 4]), fc,
                             0.5 * (fu[:, i] + fu[:, prev])], axis=1))
    order = np.arange(4 * F).reshape(4, F).T.ravel()        # keep a quad's children together
    quads = np.concatenate(quads)[order]
    uvs = np.concatenate(uvs)[order]
    g = p.weights.shape[1]
    return Piece(new[:, :3], np.clip(new[:, 3:3 + g], 0.0, None), quads, uvs)


def rim_loop(quads: np.ndarray) -> np.ndarray:
    """The vertices of the single open rim, in order along the quads' winding."""
    sides = np.stack([quads, np.roll(quads, -1, axis=1)], axis=2).reshape(-1, 2)
    key = np.sort(sides, axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    open_sides = sides[counts[inverse] == 1]
    nxt = dict(zip(open_sides[:, 0].tolist(), open_sides[:, 1].tolist()))
    if len(nxt) != len(open_sides):
        raise ValueError("the cut's rim is not a simple loop")
    start = min(nxt)
    loop = [start]
    while nxt[loop[-1]] != start:
        loop.append(nxt[loop[-1]])
    if len(loop) != len(nxt):
        raise ValueError(f"the cut has {len(nxt)} rim vertices in more than one loop")
    return np.array(loop)


@dataclass(frozen=True)
class BoneMap:
    """An affine map for one bone group: x -> head_to + R @ S(x - head_from), where S
    stretches by ``along`` between the head and the tail (along the source axis) and by
    ``across`` elsewhere (across the axis, before the head, beyond the tail)."""
    head_from: np.ndarray
    tail_from: np.ndarray
    head_to: np.ndarray
    rotation: np.ndarray
    along: float
    across: float
    scale_before_head: bool = True

    def apply(self, x: np.ndarray) -> np.ndarray:
        axis = self.tail_from - self.head_from
        length = np.linalg.norm(axis)
        axis = axis / length
        q = x - self.head_from
        t = q @ axis
        perp = q - t[:, None] * axis
        before = self.across if self.scale_before_head else 1.0
        t2 = np.where(t < 0.0, t * before,
                      np.where(t > length, length * self.along + (t - length) * self.across,
                               t * self.along))
        return self.head_to + (perp * self.across + t2[:, None] * axis) @ self.rotation.T


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` to direction ``b``."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(a @ b)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


def frame_rotation(a_from, b_from, a_to, b_to) -> np.ndarray:
    """The rotation taking direction a_from to a_to and the plane (a, b) onto (a_to, b_to)."""
    def frame(a, b):
        e1 = a / np.linalg.norm(a)
        e2 = b - (b @ e1) * e1
        e2 /= np.linalg.norm(e2)
        return np.column_stack([e1, e2, np.cross(e1, e2)])
    return frame(a_to, b_to) @ frame(a_from, b_from).T


def chain_map(head_from, tail_from, head_to, tail_to, parent_rotation, across=1.0,
              scale_before_head=True) -> BoneMap:
    """The map taking a bone onto its target, twisted like its parent: the parent's
    rotation, then the smallest rotation that lines the bone up."""
    d_from = parent_rotation @ (tail_from - head_from)
    r = rotation_between(d_from, tail_to - head_to) @ parent_rotation
    along = np.linalg.norm(tail_to - head_to) / np.linalg.norm(tail_from - head_from)
    return BoneMap(head_from, tail_from, head_to, r, along, across, scale_before_head)


def repose(p: Piece, maps: list[BoneMap]) -> np.ndarray:
    """Each vertex moved by its skin-weighted blend of the groups' maps."""
    out = np.zeros_like(p.positions)
    for g, m in enumerate(maps):
        w = p.weights[:, g]
        hit = w > 0.0
        out[hit] += w[hit, None] * m.apply(p.positions[hit])
    return out


def bone_point(rig: dict[str, Bone], name: str, end: str = "head") -> np.ndarray:
    """A bone's head or tail in engine axes."""
    return engine_axes_obj(getattr(rig[name], end)[None])[0]


@dataclass(frozen=True)
class AffineMap:
    """x -> origin_to + matrix @ (x - origin_from)."""
    origin_from: np.ndarray
    origin_to: np.ndarray
    matrix: np.ndarray

    @property
    def rotation(self) -> np.ndarray:
        return self.matrix

    def apply(self, x: np.ndarray) -> np.ndarray:
        return self.origin_to + (x - self.origin_from) @ self.matrix.T


def close_and_triangulate(positions: np.ndarray, quads: np.ndarray, quad_uvs: np.ndarray):
    """Triangles (each quad split along its shorter diagonal) and a fan over the cut's rim
    around its centroid; vertices split where the UVs do, and the cap has vertices of its
    own (its own normals: the rim is a crease). Returns positions, triangles, UVs, per
    output vertex 1 on the cap, 0 on the skin, and per output vertex its input vertex
    (``len(positions)``: the cap's centre, the rim's mean)."""
    loop = rim_loop(quads)
    centre = len(positions)
    positions = np.vstack([positions, positions[loop].mean(axis=0)])
    d02 = np.linalg.norm(positions[quads[:, 0]] - positions[quads[:, 2]], axis=1)
    d13 = np.linalg.norm(positions[quads[:, 1]] - positions[quads[:, 3]], axis=1)
    split = np.where((d02 <= d13)[:, None, None], np.array([[0, 1, 2], [0, 2, 3]]),
                     np.array([[0, 1, 3], [1, 2, 3]]))
    rows = np.repeat(np.arange(len(quads)), 2)
    cols = split.reshape(-1, 3)
    tri_pos = quads[rows[:, None], cols]
    tri_uv = quad_uvs[rows[:, None], cols]
    # a UV for each rim vertex (any corner it has) and the centre's: their mean
    first = {}
    for (f, c), v in zip(np.ndindex(*quads.shape), quads.ravel()):
        first.setdefault(int(v), quad_uvs[f, c])
    rim_uv = np.array([first[int(v)] for v in loop])
    nxt = np.roll(loop, -1)
    cap_pos = np.column_stack([nxt, loop, np.full(len(loop), centre)])
    cap_uv = np.stack([np.roll(rim_uv, -1, axis=0), rim_uv,
                       np.repeat(rim_uv.mean(axis=0)[None], len(loop), axis=0)], axis=1)
    part = np.repeat([0.0, 1.0], [3 * len(tri_pos), 3 * len(cap_pos)])
    tri_pos = np.vstack([tri_pos, cap_pos])
    tri_uv = np.concatenate([tri_uv, cap_uv])
    key = np.column_stack([tri_pos.reshape(-1, 1).astype(np.float64), tri_uv.reshape(-1, 2),
                           part])
    unique, first_index, inverse = np.unique(key, axis=0, return_index=True,
                                             return_inverse=True)
    order = np.argsort(first_index, kind="stable")          # vertices in first-use order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    vert = unique[order]
    src = vert[:, 0].astype(np.int64)
    return (positions[src], rank[inverse.reshape(-1)].reshape(-1, 3), vert[:, 1:3], vert[:, 3],
            src)


def vertex_normals(positions: np.ndarray, triangles: np.ndarray, part: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals, shared across UV splits (same position and part,
    same normal)."""
    _, weld = np.unique(np.column_stack([positions, part]), axis=0, return_inverse=True)
    weld = weld.reshape(-1)
    t = positions[triangles]
    fn = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    acc = np.zeros((weld.max() + 1, 3))
    for c in range(3):
        np.add.at(acc, weld[triangles[:, c]], fn)
    n = acc[weld]
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def vertex_tangents(positions: np.ndarray, normals: np.ndarray, triangles: np.ndarray,
                    texcoords: np.ndarray) -> np.ndarray:
    """glTF TANGENT (V, 4): xyz along +u, orthogonal to the normal; w the handedness that
    makes cross(normal, xyz) * w point up the image (glTF v decreasing)."""
    t = positions[triangles]
    uv = texcoords[triangles] * [1.0, -1.0]               # v up
    e1, e2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    d1, d2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    det = d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1]
    r = np.where(np.abs(det) > 1e-12, 1.0 / np.where(det == 0.0, 1.0, det), 0.0)[:, None]
    sdir = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) * r
    tdir = (e2 * d1[:, 0:1] - e1 * d2[:, 0:1]) * r
    tan, bit = np.zeros_like(positions), np.zeros_like(positions)
    for c in range(3):
        np.add.at(tan, triangles[:, c], sdir)
        np.add.at(bit, triangles[:, c], tdir)
    tan -= normals * np.einsum("ij,ij->i", normals, tan)[:, None]
    bad = np.linalg.norm(tan, axis=1) < 1e-12
    fallback = np.cross(normals, [0.0, 0.0, 1.0])
    tan[bad] = fallback[bad] + 1e-9
    tan /= np.linalg.norm(tan, axis=1, keepdims=True)
    w = np.where(np.einsum("ij,ij->i", np.cross(normals, tan), bit) < 0.0, -1.0, 1.0)
    return np.column_stack([tan, w])
