"""The shipped limb models (models/limbs/*.glb), their generator and the skin tone palette.

Skin deformation is checked the way the engine's GLSL skinning computes it: linear blend
skinning of the file's own joints and weights, each joint bent alone to the limit of
vrgmi.ik.limits (the IK never asks for more).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pygltflib
import pytest

from vrgmi.assets import limb_mesh as lm
from vrgmi.assets.gltf_writer import GltfError, read_skinned_mesh
from vrgmi.assets.skin_tones import (DEFAULT_TONE, MONK_HEX, PALETTE, SkinToneError, get_tone, linear_to_srgb,
                                     nail_color, srgb_to_linear, tones_for_type)
from vrgmi.body.skeleton import ARM_JOINT_NAMES, rest_foot_positions, rest_hand_positions
from vrgmi.errors import VrgmiError
from vrgmi.ik.limits import ARM_ROM, LEG_ROM
from vrgmi.spatial import quat_from_axis_angle, quat_to_matrix, stage_to_engine_point
from vrgmi.tracking.frame import HAND_JOINT_NAMES

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models" / "limbs"
H = 1.75
KINDS = ("arm", "leg")
LIMIT = {row[0]: (row[1], row[2]) for row in ARM_ROM + LEG_ROM}
DOWN = np.array([0.0, 0.0, -1.0])


class Model:
    """A limb model read back from its .glb, in engine axes."""

    def __init__(self, kind: str):
        self.kind = kind
        self.path = MODELS / f"{kind}_right.glb"
        self.mesh = read_skinned_mesh(self.path.read_bytes())
        self.p = stage_to_engine_point(self.mesh.positions)
        self.n = stage_to_engine_point(self.mesh.normals)
        self.f = self.mesh.indices
        self.joints = stage_to_engine_point(self.mesh.joint_positions)
        self.idx = {n: i for i, n in enumerate(self.mesh.joint_names)}

    def __getitem__(self, name: str) -> np.ndarray:
        return self.joints[self.idx[name]]

    def pose(self, local: dict[str, np.ndarray]) -> np.ndarray:
        """Vertices skinned with the given local joint rotations (others at rest)."""
        rot = np.tile(np.eye(3), (len(self.joints), 1, 1))
        for name, r in local.items():
            rot[self.idx[name]] = r
        world_rot, world_pos = lm.forward_kinematics(self.joints, self.mesh.joint_parents, rot)
        m = lm.skin_matrices(self.joints, world_rot, world_pos)
        return lm.linear_blend_skin(self.p, self.mesh.joints, self.mesh.weights, m)


@pytest.fixture(scope="module")
def models() -> dict[str, Model]:
    return {k: Model(k) for k in KINDS}


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _rot(axis, degrees: float) -> np.ndarray:
    return quat_to_matrix(quat_from_axis_angle(np.asarray(axis, dtype=np.float64),
                                               np.radians(degrees)))


def _ray_hits(origin: np.ndarray, direction: np.ndarray, tris: np.ndarray):
    """(triangle indices hit, distances) of a ray (Moller-Trumbore)."""
    a, e1, e2 = tris[:, 0], tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    pv = np.cross(direction, e2)
    det = np.einsum("ij,ij->i", e1, pv)
    ok = np.abs(det) > 1e-18
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    tv = origin - a
    u = np.einsum("ij,ij->i", tv, pv) * inv
    qv = np.cross(tv, e1)
    v = (qv @ direction) * inv
    t = np.einsum("ij,ij->i", e2, qv) * inv
    hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 1e-9)
    return np.flatnonzero(hit), t


def _first_hit(origin, direction, tris) -> float:
    hit, t = _ray_hits(origin, _unit(direction), tris)
    return float(t[hit].min()) if len(hit) else np.inf


def _girth(p: np.ndarray, f: np.ndarray, z: float, keep=None) -> float:
    """Perimeter of the mesh's cross-section by the plane at height z (summed segments)."""
    t = p[f]
    d = t[:, :, 2] - z
    total = 0.0
    for tri, dd in zip(t, d):
        pts = [tri[a] + dd[a] / (dd[a] - dd[b]) * (tri[b] - tri[a])
               for a, b in ((0, 1), (1, 2), (2, 0)) if (dd[a] < 0) != (dd[b] < 0)]
        if len(pts) == 2 and (keep is None or keep(0.5 * (pts[0] + pts[1]))):
            total += np.linalg.norm(pts[0] - pts[1])
    return total


# ---------------------------------------------------------------- file format


def test_khronos_validator_finds_no_errors_or_warnings():
    node = shutil.which("node")
    assert node, "node is not installed; the glTF validator needs it (npm install)"
    files = [str(MODELS / f"{k}_right.glb") for k in KINDS]
    run = subprocess.run([node, str(ROOT / "tests" / "gltf_validate.mjs"), *files],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode in (0, 1), run.stderr
    reports = json.loads(run.stdout)
    assert [r["file"] for r in reports] == files
    for r in reports:
        assert r["errors"] == 0 and r["warnings"] == 0, r["messages"]


@pytest.mark.parametrize("kind", KINDS)
def test_files_are_small_and_within_the_triangle_budget(models, kind):
    m = models[kind]
    assert m.path.stat().st_size < 3_000_000
    assert 10_000 <= len(m.f) <= 60_000               # issue 12: at most 60k per limb
    assert len(m.p) < 65_535                          # 16-bit indices


def _expected_joints(kind: str) -> dict[str, np.ndarray]:
    if kind == "arm":
        elbow = np.array([0.0, 0.0, -0.186 * H])
        wrist = elbow + [0.0, 0.0, -0.146 * H]
        out = {"shoulder": np.zeros(3), "elbow": elbow, "forearm_twist": 0.5 * (elbow + wrist)}
        out.update(zip(HAND_JOINT_NAMES, rest_hand_positions(0.108 * H) + wrist))
        return out
    knee = np.array([0.0, 0.0, -0.245 * H])
    ankle = knee + [0.0, 0.0, -0.246 * H]
    foot = rest_foot_positions(0.152 * H, 0.039 * H) + ankle
    return {"hip": np.zeros(3), "knee": knee, "ankle": ankle, "heel": foot[1], "ball": foot[2],
            "toe_tip": foot[3]}


@pytest.mark.parametrize("kind", KINDS)
def test_joints_sit_where_the_skeleton_puts_them(models, kind):
    m = models[kind]
    expected = _expected_joints(kind)
    assert set(m.idx) == set(expected)
    if kind == "arm":
        assert set(ARM_JOINT_NAMES) <= set(m.idx)
    for name, pos in expected.items():
        assert np.linalg.norm(m[name] - pos) < 1e-4, name
    root = m.mesh.joint_names[0]
    assert root == ("shoulder" if kind == "arm" else "hip")
    assert np.allclose(m[root], 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_bind_pose_has_identity_joint_rotations(models, kind):
    gltf = pygltflib.GLTF2.load_from_bytes(models[kind].path.read_bytes())
    skin = gltf.skins[0]
    mesh_node = gltf.nodes[0]
    assert mesh_node.mesh == 0 and mesh_node.skin == 0 and 0 in gltf.scenes[0].nodes
    assert mesh_node.translation is None and mesh_node.rotation is None
    assert skin.skeleton == skin.joints[0] and skin.joints[0] in gltf.scenes[0].nodes
    for j in skin.joints:
        node = gltf.nodes[j]
        assert node.rotation is None and node.scale is None and node.matrix is None, node.name
    acc = gltf.accessors[skin.inverseBindMatrices]
    view = gltf.bufferViews[acc.bufferView]
    ibm = np.frombuffer(gltf.binary_blob(), np.float32, acc.count * 16,
                        view.byteOffset or 0).reshape(-1, 4, 4).transpose(0, 2, 1)
    expected = np.tile(np.eye(4), (acc.count, 1, 1))
    expected[:, :3, 3] = -models[kind].mesh.joint_positions
    assert np.allclose(ibm, expected, atol=1e-6)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_reading_a_file_that_is_not_a_limb_model_is_one_clear_error():
    with pytest.raises(GltfError, match="not a vrgmi limb model"):
        read_skinned_mesh(b"glTF but not really")


# ---------------------------------------------------------------- shape


@pytest.mark.parametrize("kind", KINDS)
def test_surface_is_closed_outward_and_smooth_shaded(models, kind):
    m = models[kind]
    # vertices are split along UV seams (and at the cap's rim): weld them by position
    welded_p, weld = np.unique(m.p, axis=0, return_inverse=True)
    welded = weld.reshape(-1)[m.f]
    assert lm.edge_manifold(welded)
    assert len(welded_p) - len(m.f) // 2 == 2                  # Euler: a sphere's topology
    assert lm.signed_volume(m.p, m.f) > 0.0
    assert np.allclose(np.linalg.norm(m.n, axis=1), 1.0, atol=1e-5)
    fn = lm.face_normals(m.p, m.f)
    assert np.all(np.einsum("ij,ij->i", fn, m.n[m.f].mean(axis=1)) > 0.0)


def test_arm_proportions(models):
    m = models["arm"]
    p, f = m.p, m.f
    assert abs(p[:, 2].min() - m["middle_tip"][2]) < 0.004        # reaches the fingertip
    assert 0.02 < p[:, 2].max() < 0.06                          # shoulder cap
    mcp = m["middle_proximal"][2]
    hand = p[(np.abs(p[:, 2] - mcp) < 0.004) & (p[:, 0] > -0.02)]     # thumb left out
    assert 0.07 < np.ptp(hand[:, 1]) < 0.095                    # hand breadth at the knuckles
    for z, lo, hi in ((-0.15, 25, 33), (m["elbow"][2] - 0.04, 23, 30),
                      (m["wrist"][2] + 0.03, 15, 19)):
        assert lo < _girth(p, f, z) * 100 < hi, z                # upper arm, forearm, wrist
    assert 3.0 < lm.signed_volume(p, f) * 1000 < 4.8            # litres


def test_leg_proportions(models):
    m = models["leg"]
    p, f = m.p, m.f
    sole = m["heel"][2]
    assert abs(p[:, 2].min() - sole) < 0.001                    # flat on the sole plane
    foot = p[p[:, 2] < m["ankle"][2] - 0.03]
    assert abs(np.ptp(foot[:, 1]) - 0.152 * H) < 0.01          # heel to toe tip
    assert 0.085 < np.ptp(foot[:, 0]) < 0.115                    # breadth at the ball
    for z, lo, hi in ((-0.2, 45, 58), (m["knee"][2] - 0.13, 32, 40),
                      (m["ankle"][2] + 0.08, 19, 25)):
        assert lo < _girth(p, f, z) * 100 < hi, z                # thigh, calf, above ankle
    arch = p[(np.abs(p[:, 1] - m["ankle"][1] - 0.05) < 0.01) & (p[:, 0] < -0.025)]
    assert arch[:, 2].min() > sole + 0.008                      # medial arch off the floor


def _largest_gap(values: np.ndarray, lo: float, hi: float) -> float:
    v = np.sort(np.concatenate([[lo, hi], values[(values > lo) & (values < hi)]]))
    return float(np.diff(v).max())


def test_fingers_are_separate_below_the_webs(models):
    m = models["arm"]
    for a, b in zip(("index", "middle", "ring"), ("middle", "ring", "little")):
        pa, pb = m[f"{a}_intermediate"], m[f"{b}_intermediate"]
        z = 0.5 * (pa[2] + pb[2])
        ys = m.p[np.abs(m.p[:, 2] - z) < 0.003, 1]
        assert _largest_gap(ys, pb[1], pa[1]) > 0.0015, (a, b)     # skin does not bridge them


def test_big_toe_is_separate_from_the_others(models):
    m = models["leg"]
    y = m["toe_tip"][1] - 0.02
    xs = m.p[(np.abs(m.p[:, 1] - y) < 0.002) & (m.p[:, 2] < m["ankle"][2]), 0]
    assert _largest_gap(xs, -0.02, -0.006) > 0.002


# ---------------------------------------------------------------- skin weights


LEAVES = {"arm": {"palm"} | {f"{f}_tip" for f in ("thumb", "index", "middle", "ring", "little")},
          "leg": {"heel", "toe_tip"}}


@pytest.mark.parametrize("kind", KINDS)
def test_weights_are_normalised_sparse_and_cover_every_bone(models, kind):
    m = models[kind]
    w, j = m.mesh.weights, m.mesh.joints
    assert w.shape[1] == 4 and np.all(w >= 0.0)
    assert np.allclose(w.astype(np.float32).sum(axis=1, dtype=np.float32), 1.0, atol=2e-7)
    assert np.all(j[w == 0.0] == 0)
    for row in (j[w > 0.0].reshape(-1),):
        assert row.max() < len(m.joints)
    per_joint = np.zeros(len(m.joints))
    np.maximum.at(per_joint, j.ravel(), w.ravel())
    for name, i in m.idx.items():
        if name in LEAVES[kind]:
            assert per_joint[i] == 0.0, name            # markers carry no skin
        else:
            assert per_joint[i] > 0.6, name             # every bone mainly owns some skin


@pytest.mark.parametrize("kind,marker,bone", [
    ("arm", "thumb_tip", "thumb_distal"), ("arm", "index_tip", "index_distal"),
    ("arm", "middle_tip", "middle_distal"), ("arm", "ring_tip", "ring_distal"),
    ("arm", "little_tip", "little_distal"), ("leg", "toe_tip", "ball"), ("leg", "heel", "ankle")])
def test_the_skin_at_a_tip_belongs_to_the_last_bone(models, kind, marker, bone):
    m = models[kind]
    nearest = np.argsort(np.linalg.norm(m.p - m[marker], axis=1))[:10]
    w = np.where(m.mesh.joints[nearest] == m.idx[bone], m.mesh.weights[nearest], 0.0).sum(axis=1)
    assert w.min() > 0.99


@pytest.mark.parametrize("kind,joint,z", [("arm", "shoulder", -0.17), ("arm", "forearm_twist", -0.5),
                                          ("leg", "hip", -0.2), ("leg", "knee", -0.65)])
def test_mid_segment_skin_follows_its_bone_rigidly(models, kind, joint, z):
    """Scaling a segment moves joints only: skin between the handover zones must move
    with one bone, so it is translated, not stretched, when the next joint moves."""
    m = models[kind]
    ring = np.abs(m.p[:, 2] - z) < 0.01
    w = np.where(m.mesh.joints[ring] == m.idx[joint], m.mesh.weights[ring], 0.0).sum(axis=1)
    assert w.min() > 0.99


@pytest.mark.parametrize("kind,moved,factor", [
    ("arm", ("elbow",), 1.15), ("arm", ("elbow",), 0.85),
    ("arm", ("forearm_twist", "wrist"), 1.15), ("arm", ("forearm_twist", "wrist"), 0.85),
    ("arm", tuple(n for n in HAND_JOINT_NAMES if n not in ("wrist",)), 1.1),
    ("leg", ("knee",), 1.15), ("leg", ("ankle",), 0.85),
    ("leg", ("heel", "ball", "toe_tip"), 0.9)])
def test_refitting_to_a_patient_stretches_each_segment_evenly(models, kind, moved, factor):
    """Segment lengths change by moving joints along the bones; refit_bind_pose moves the
    skin with them so that the whole segment stretches, not its handover zones."""
    m = models[kind]
    parents = m.mesh.joint_parents
    offsets = m.joints - np.where(np.array(parents)[:, None] >= 0,
                                  m.joints[np.maximum(parents, 0)], 0.0)
    for name in moved:
        offsets[m.idx[name]] *= factor
    new = np.zeros_like(offsets)
    for j, parent in enumerate(parents):
        new[j] = offsets[j] + (new[parent] if parent >= 0 else 0.0)
    p, n = lm.refit_bind_pose(m.p, m.n, m.mesh.joints, m.mesh.weights, m.joints, parents, new)
    tip = np.argmin(m.p[:, 2] - (m.p[:, 1] if kind == "leg" else 0.0))
    nearest = np.argmin(np.linalg.norm(m.p - m.joints[m.idx[moved[-1]]], axis=1))
    assert np.linalg.norm((p[nearest] - m.p[nearest]) - (new - m.joints)[m.idx[moved[-1]]]) < 0.01
    assert np.linalg.norm(p[tip] - m.p[tip]) > 0.0
    assert np.all(np.einsum("ij,ij->i", lm.face_normals(p, m.f), lm.face_normals(m.p, m.f)) > 0.8)
    assert np.all(np.einsum("ij,ij->i", n, m.n) > 0.8)
    edges = np.concatenate([m.f[:, [0, 1]], m.f[:, [1, 2]], m.f[:, [2, 0]]])
    stretch = (np.linalg.norm(p[edges[:, 0]] - p[edges[:, 1]], axis=1)
               / np.linalg.norm(m.p[edges[:, 0]] - m.p[edges[:, 1]], axis=1))
    change = abs(factor - 1.0)        # handover zones, off-centre at elbow and knee, take more
    assert 1.0 - 3.5 * change < stretch.min() and stretch.max() < 1.0 + 3.5 * change
    # the refitted model bends like the original
    posed = lm.linear_blend_skin(p, m.mesh.joints, m.mesh.weights, lm.skin_matrices(
        new, np.tile(np.eye(3), (len(new), 1, 1)), new))
    assert np.allclose(posed, p)


# ---------------------------------------------------------------- bending to the limits


def _bend_cases():
    """(kind, rotated joint, pivot joint or point, parent bone direction, inner side, degrees)."""
    cases = [("arm", "elbow", "elbow", DOWN, (0, 1, 0), LIMIT["elbow_flexion"][1]),
             ("arm", "wrist", "wrist", DOWN, (-1, 0, 0), LIMIT["wrist_flexion"][1]),
             ("arm", "wrist", "wrist", DOWN, (1, 0, 0), -LIMIT["wrist_flexion"][0]),
             ("arm", "wrist", "wrist", DOWN, (0, -1, 0), LIMIT["wrist_ulnar_deviation"][1]),
             ("arm", "wrist", "wrist", DOWN, (0, 1, 0), -LIMIT["wrist_ulnar_deviation"][0]),
             ("arm", "thumb_proximal", "thumb_proximal", None, "palm", LIMIT["thumb_mcp_flexion"][1]),
             ("arm", "thumb_distal", "thumb_distal", None, "palm", LIMIT["thumb_ip_flexion"][1]),
             ("leg", "knee", "knee", DOWN, (0, -1, 0), LIMIT["knee_flexion"][1]),
             ("leg", "ankle", "ankle", DOWN, (0, 1, 0), LIMIT["ankle_dorsiflexion"][1]),
             ("leg", "ankle", "ankle", DOWN, (0, -1, 0), -LIMIT["ankle_dorsiflexion"][0]),
             ("leg", "ball", "ball", (0, 1, 0), (0, 0, -1), LIMIT["toe_flexion"][1]),
             ("leg", "ball", "ball", (0, 1, 0), (0, 0, 1), -LIMIT["toe_flexion"][0])]
    for f in ("index", "middle", "ring", "little"):
        cases += [("arm", f"{f}_proximal", f"{f}_proximal", None, (-1, 0, 0),
                   LIMIT[f"{f}_mcp_flexion"][1]),
                  ("arm", f"{f}_proximal", f"{f}_proximal", None, (1, 0, 0),
                   -LIMIT[f"{f}_mcp_flexion"][0]),
                  ("arm", f"{f}_intermediate", f"{f}_intermediate", None, (-1, 0, 0),
                   LIMIT[f"{f}_pip_flexion"][1]),
                  ("arm", f"{f}_distal", f"{f}_distal", None, (-1, 0, 0),
                   LIMIT[f"{f}_dip_flexion"][1])]
    return cases


@pytest.mark.parametrize("kind,joint,pivot,parent_dir,inner,degrees", _bend_cases(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_a_joint_bent_to_its_limit_keeps_its_thickness(models, kind, joint, pivot, parent_dir,
                                                       inner, degrees):
    m = models[kind]
    c0 = m[pivot].copy()
    if parent_dir is None:
        parent_dir = c0 - m.joints[m.mesh.joint_parents[m.idx[joint]]]
    parent_dir = _unit(parent_dir)
    inner = m["palm"] - c0 if isinstance(inner, str) else np.asarray(inner, dtype=np.float64)
    inner = _unit(inner - np.dot(inner, parent_dir) * parent_dir)
    if kind == "leg" and joint == "ball":
        c0 = c0 + [0.0, 0.0, 0.02]                  # the pivot is on the sole: look from inside
    hinge = _unit(np.cross(parent_dir, inner))
    r = _rot(hinge, degrees)
    posed = m.pose({joint: r})
    pivot_pos = m[pivot]
    center = pivot_pos + _rot(hinge, 0.5 * degrees) @ (c0 - pivot_pos)
    near = np.linalg.norm(m.p[m.f].mean(axis=1) - c0, axis=1) < 0.12
    rest_t, posed_t = m.p[m.f][near], posed[m.f][near]

    outer_rest = _first_hit(c0, -inner, rest_t)
    outer = _first_hit(center, -inner + r @ -inner, posed_t)
    assert outer > 0.6 * outer_rest, f"outside of the bend: {outer / outer_rest:.2f} of rest"
    if np.allclose(c0, pivot_pos):                  # along the hinge axis nothing should move
        for side in (hinge, -hinge):
            assert _first_hit(center, side, posed_t) > 0.9 * _first_hit(c0, side, rest_t)

    local = np.linalg.norm(m.p[m.f].mean(axis=1) - c0, axis=1) < 1.5 * outer_rest
    def star(points, origin):                       # volume seen from the joint centre
        t = points[m.f[local]] - origin
        return np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0
    assert star(posed, center) > 0.6 * star(m.p, c0)

    # no triangle near the joint may show its back to a viewer outside the limb
    rng = np.random.default_rng(7)
    fn = lm.face_normals(posed, m.f)
    tris = posed[m.f]
    for _ in range(60):
        d = _unit(rng.normal(size=3))
        target = center + rng.normal(size=3) * 0.5 * outer_rest
        hit, t = _ray_hits(target + 3.0 * d, -d, tris)
        if len(hit):
            first = hit[np.argmin(t[hit])]
            assert not (local[first] and fn[first] @ d < 0.0), "inverted skin seen from outside"


@pytest.mark.parametrize("degrees", [LIMIT["forearm_pronation"][1], LIMIT["forearm_pronation"][0]])
def test_forearm_twist_does_not_wring_the_wrist(models, degrees):
    """Pronation: half on forearm_twist, the rest on the wrist (see docs/limb-rigs.md)."""
    m = models["arm"]
    half = _rot(DOWN, 0.5 * degrees)
    posed = m.pose({"forearm_twist": half, "wrist": half})
    for z in (m["forearm_twist"][2], 0.5 * (m["forearm_twist"][2] + m["wrist"][2]),
              m["wrist"][2] + 0.01):
        c = np.array([0.0, 0.0, z])
        near = np.abs(m.p[m.f].mean(axis=1)[:, 2] - z) < 0.05
        dirs = [(np.cos(a), np.sin(a), 0.0) for a in np.linspace(0, 2 * np.pi, 36, endpoint=False)]
        r0 = np.array([_first_hit(c, d, m.p[m.f][near]) for d in dirs])
        r1 = np.array([_first_hit(c, d, posed[m.f][near]) for d in dirs])
        assert np.sum(r1 ** 2) > 0.85 * np.sum(r0 ** 2), z


# ---------------------------------------------------------------- nails and attributes


def _texture(model: "Model", which: str) -> np.ndarray:
    """A material texture of the model's .glb as float RGBA (H, W, 4)."""
    from io import BytesIO

    from PIL import Image

    gltf = pygltflib.GLTF2.load_from_bytes(model.path.read_bytes())
    mat = gltf.materials[0]
    info = mat.normalTexture if which == "normal" else mat.pbrMetallicRoughness.baseColorTexture
    view = gltf.bufferViews[gltf.images[gltf.textures[info.index].source].bufferView]
    raw = gltf.binary_blob()[view.byteOffset:view.byteOffset + view.byteLength]
    return np.asarray(Image.open(BytesIO(raw)).convert("RGBA"), dtype=np.float64) / 255.0


def _at_vertices(model: "Model", image: np.ndarray) -> np.ndarray:
    """The texels under each vertex (TEXCOORD_0, glTF: v down)."""
    h, w = image.shape[:2]
    uv = model.mesh.texcoords
    return image[np.clip((uv[:, 1] * h).astype(int), 0, h - 1),
                 np.clip((uv[:, 0] * w).astype(int), 0, w - 1)]


def test_nails_cover_the_back_of_each_distal_segment(models):
    m = models["arm"]
    mask = _at_vertices(m, _texture(m, "normal"))[:, 3]         # nail mask: normal map alpha
    for f in ("thumb", "index", "middle", "ring", "little"):
        dip, tip = m[f"{f}_distal"], m[f"{f}_tip"]
        seg = np.linalg.norm(np.cross(m.p - dip, _unit(tip - dip)), axis=1) < 0.012
        along = (m.p - dip) @ _unit(tip - dip)
        on = seg & (along > 0) & (along < np.linalg.norm(tip - dip)) & (mask > 0.9)
        assert on.sum() >= 15, f
        palmar = seg & (along > 0) & ((m.p - dip) @ (m["palm"] - dip) > 0.004)
        assert np.all(mask[palmar] < 0.5), f                      # none on the pad
    assert np.all(mask[m.p[:, 2] > m["wrist"][2]] == 0.0)       # none on the arm
    leg = models["leg"]
    toes = _at_vertices(leg, _texture(leg, "normal"))[:, 3] > 0.9
    assert toes.sum() >= 50
    assert np.all(leg.p[toes, 1] > leg["ball"][1] - 0.02)       # on the toes only


@pytest.mark.parametrize("kind", KINDS)
def test_palms_and_soles_are_marked_and_the_detail_darkens_creases(models, kind):
    m = models[kind]
    base = _at_vertices(m, _texture(m, "base"))
    uv = m.mesh.texcoords
    assert uv.min() >= 0.0 and uv.max() <= 1.0
    if kind == "arm":
        hand = m.p[:, 2] < m["wrist"][2] - 0.02
        palmar = hand & (m.n[:, 0] < -0.8)                      # palm faces -x at rest
        dorsal = hand & (m.n[:, 0] > 0.8)
    else:
        foot = m.p[:, 2] < m["heel"][2] + 0.005
        palmar = foot & (m.n[:, 2] < -0.8)
        dorsal = (m.p[:, 2] < m["ankle"][2] - 0.01) & (m.n[:, 2] > 0.8)
    assert palmar.sum() > 100 and dorsal.sum() > 100
    assert np.mean(base[palmar, 3] > 0.9) > 0.9                 # palmar/plantar mask
    assert np.mean(base[dorsal, 3] < 0.1) > 0.9
    assert np.all(base[:, :3] <= 1.0) and base[:, :3].min() < 0.9  # creases darken


# ---------------------------------------------------------------- mirroring


@pytest.mark.parametrize("kind", KINDS)
def test_mirrored_mesh_is_a_left_limb_with_outward_faces(models, kind):
    m = models[kind]
    offsets = m.joints - np.where(np.array(m.mesh.joint_parents)[:, None] >= 0,
                                  m.joints[np.maximum(m.mesh.joint_parents, 0)], 0.0)
    p, n, f, o = lm.mirror_mesh(m.p, m.n, m.f, offsets)
    assert np.allclose(p[:, 0], -m.p[:, 0]) and np.allclose(p[:, 1:], m.p[:, 1:])
    assert np.allclose(n[:, 0], -m.n[:, 0]) and np.allclose(o[:, 0], -offsets[:, 0])
    fn = lm.face_normals(p, f)
    assert np.all(np.einsum("ij,ij->i", fn, n[f].mean(axis=1)) > 0.0)
    assert np.isclose(lm.signed_volume(p, f), lm.signed_volume(m.p, m.f))
    assert lm.signed_volume(p, f) > 0.0
    joints = np.zeros_like(o)
    for j, parent in enumerate(m.mesh.joint_parents):
        joints[j] = o[j] + (joints[parent] if parent >= 0 else 0.0)
    assert np.allclose(joints, m.joints * [-1.0, 1.0, 1.0])
    p2, n2, f2, o2 = lm.mirror_mesh(p, n, f, o)
    assert np.array_equal(p2, m.p) and np.array_equal(f2, m.f) and np.array_equal(o2, offsets)


def test_mirror_mesh_rejects_bad_input_with_one_line():
    p = np.zeros((4, 3))
    with pytest.raises(lm.LimbMeshError) as err:
        lm.mirror_mesh(p, np.zeros((3, 3)), np.array([0, 1, 2]))
    assert "\n" not in str(err.value) and isinstance(err.value, VrgmiError)
    with pytest.raises(ValueError, match="multiple of 3"):
        lm.mirror_mesh(p, p, np.array([0, 1]))
    with pytest.raises(ValueError, match="vertex 9"):
        lm.mirror_mesh(p, p, np.array([0, 1, 9]))


def test_limit_influences_keeps_the_four_largest_and_renormalises():
    w = np.array([[0.1, 0.2, 0.3, 0.15, 0.25], [1.0, 0.0, 0.0, 0.0, 0.0]])
    j, w4 = lm.limit_influences(w)
    assert j[0].tolist() == [2, 4, 1, 3] and j[1].tolist() == [0, 0, 0, 0]
    assert np.allclose(w4[0], np.array([0.3, 0.25, 0.2, 0.15]) / 0.9, atol=1e-6)
    assert w4.sum(axis=1, dtype=np.float32).tolist() == [1.0, 1.0]
    with pytest.raises(lm.LimbMeshError, match="no skin weight"):
        lm.limit_influences(np.zeros((1, 3)))


# ---------------------------------------------------------------- generator


def test_generator_reproduces_the_committed_files_byte_for_byte():
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "make_limbs.py"), "--check"],
                         capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("up to date") == 2


# ---------------------------------------------------------------- skin tones


def test_palette_covers_every_fitzpatrick_type_with_several_tones():
    for fitz in range(1, 7):
        assert len(tones_for_type(fitz)) >= 4, fitz
    itas = [t.ita for t in PALETTE]
    assert itas == sorted(itas, reverse=True)                 # lightest first
    assert [t.index for t in PALETTE] == list(range(len(PALETTE)))


def test_monk_swatches_are_exact_and_encodings_agree():
    for k, hexcode in enumerate(MONK_HEX):
        tone = get_tone(f"MST {k + 1}")
        assert tone.hex == hexcode
        assert np.allclose(linear_to_srgb(tone.linear), tone.srgb, atol=2e-4)
        assert np.allclose(srgb_to_linear(tone.srgb), tone.linear, atol=2e-4)
    assert get_tone("MST 1").fitzpatrick == 1 and get_tone("MST 10").fitzpatrick == 6
    assert DEFAULT_TONE.name == "MST 5" and DEFAULT_TONE.fitzpatrick == 2


def test_get_tone_by_name_or_index_and_one_line_errors():
    assert get_tone(0) is PALETTE[0]
    assert get_tone(" iii-2 ").name == "III-2" and get_tone("mst5").name == "MST 5"
    for bad in (len(PALETTE), -1, "MST 11", "beige", 2.5, True):
        with pytest.raises(SkinToneError) as err:
            get_tone(bad)
        assert "\n" not in str(err.value) and isinstance(err.value, ValueError)
    with pytest.raises(SkinToneError, match="1..6"):
        tones_for_type(7)


def _hue(linear) -> float:
    r, g, b = linear_to_srgb(linear)
    return float(np.degrees(np.arctan2(np.sqrt(3.0) * (g - b), 2.0 * r - g - b)))


def test_nails_take_the_skin_tone_and_are_lighter_on_darker_skin():
    """The nail bed takes the skin's own hue (a fixed pink read as painted nails on
    Fitzpatrick V-VI), lighter than the skin from type II on, clearly so on dark skin."""
    for tone in PALETTE:
        nail = np.array(nail_color(tone))
        skin = np.array(tone.linear)
        assert abs(_hue(nail) - _hue(skin)) <= 7.0, tone.name
        lighter = (nail - skin) @ [0.2126, 0.7152, 0.0722]
        if tone.fitzpatrick >= 2:
            assert lighter > 0.0, tone.name
        if tone.fitzpatrick >= 5:
            assert lighter > 0.1, tone.name
