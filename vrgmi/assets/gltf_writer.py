"""Write (and read back) one skinned triangle mesh as a binary glTF 2.0 file (pygltflib).

The layout is the one ``models/limbs/*.glb`` use (docs/limb-rigs.md): a root mesh node
with one skinned primitive, and a joint tree whose nodes carry translations only (the
bind pose has identity joint rotations), every joint listed in the skin. Output bytes
depend only on the input arrays, so a generator using this is reproducible.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pygltflib as g

from vrgmi.errors import VrgmiError


class GltfError(VrgmiError, ValueError):
    """A limb mesh that cannot be written, or a file that is not such a limb model."""


@dataclass
class SkinnedMesh:
    """A skinned mesh in glTF axes (Y up), metres.

    ``joint_positions`` are the joints' bind-pose positions in the mesh's space;
    ``joint_parents[j]`` is the index of joint j's parent (-1 for the root, which must be
    joint 0; parents come before their children). ``texcoords`` and ``colors`` are
    optional per-vertex attributes (TEXCOORD_0 float, COLOR_0 RGBA 0..1).
    """
    name: str
    positions: np.ndarray
    normals: np.ndarray
    indices: np.ndarray
    joints: np.ndarray
    weights: np.ndarray
    joint_names: tuple[str, ...]
    joint_parents: tuple[int, ...]
    joint_positions: np.ndarray
    texcoords: np.ndarray | None = None
    tangents: np.ndarray | None = None      # (N, 4) glTF TANGENT, for the normal map
    colors: np.ndarray | None = None
    base_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    roughness: float = 0.6
    base_color_png: bytes | None = None     # baseColorTexture (sRGB), read with TEXCOORD_0
    normal_png: bytes | None = None         # normalTexture (tangent space)
    extras: dict = field(default_factory=dict)
    #: morph targets: (name, position deltas (N, 3), normal deltas (N, 3)), named in the
    #: mesh's ``extras.targetNames``; their default weights are 0
    morph_targets: tuple[tuple[str, np.ndarray, np.ndarray], ...] = ()


def _check(m: SkinnedMesh) -> None:
    n = len(m.positions)
    j = len(m.joint_names)
    shapes = {"positions": (m.positions, (n, 3)), "normals": (m.normals, (n, 3)),
              "joints": (m.joints, (n, 4)), "weights": (m.weights, (n, 4)),
              "joint_positions": (m.joint_positions, (j, 3))}
    if m.texcoords is not None:
        shapes["texcoords"] = (m.texcoords, (n, 2))
    if m.tangents is not None:
        shapes["tangents"] = (m.tangents, (n, 4))
    if m.colors is not None:
        shapes["colors"] = (m.colors, (n, 4))
    for name, (arr, shape) in shapes.items():
        if np.shape(arr) != shape:
            raise GltfError(f"{name} has shape {np.shape(arr)}, expected {shape}")
    idx = np.asarray(m.indices)
    if idx.ndim != 2 or idx.shape[1] != 3 or idx.min() < 0 or idx.max() >= n:
        raise GltfError(f"indices must be (T, 3) vertex numbers below {n}")
    if len(m.joint_parents) != j or m.joint_parents[0] != -1 or any(
            not 0 <= p < i for i, p in enumerate(m.joint_parents) if i):
        raise GltfError("joint_parents must start with the root (-1) and list parents first")
    if np.asarray(m.joints).max() >= j:
        raise GltfError(f"joints refer to joint {np.asarray(m.joints).max()} of {j}")
    for name, dp, dn in m.morph_targets:
        if np.shape(dp) != (n, 3) or np.shape(dn) != (n, 3):
            raise GltfError(f"morph target {name} needs ({n}, 3) position and normal deltas")


class _Blob:
    """Binary buffer with 4-byte aligned buffer views and their accessors."""

    def __init__(self, gltf: g.GLTF2):
        self.gltf = gltf
        self.data = bytearray()

    def add(self, arr: np.ndarray, component: int, kind: str, target: int | None,
            normalized: bool = False, minmax: bool = False) -> int:
        raw = np.ascontiguousarray(arr).tobytes()
        offset = len(self.data)
        self.data += raw + b"\0" * (-len(raw) % 4)
        self.gltf.bufferViews.append(g.BufferView(buffer=0, byteOffset=offset,
                                                  byteLength=len(raw), target=target))
        acc = g.Accessor(bufferView=len(self.gltf.bufferViews) - 1, componentType=component,
                         count=len(arr), type=kind, normalized=True if normalized else None)
        if minmax:
            flat = np.asarray(arr).reshape(len(arr), -1)
            acc.min = [float(v) for v in flat.min(axis=0)]
            acc.max = [float(v) for v in flat.max(axis=0)]
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1


def skinned_mesh_glb(m: SkinnedMesh) -> bytes:
    """The binary glTF (.glb) bytes of ``m``."""
    _check(m)
    gltf = g.GLTF2(asset=g.Asset(version="2.0", generator="vrgmi tools/make_limbs.py"))
    blob = _Blob(gltf)
    f32 = np.float32
    attrs = g.Attributes(
        POSITION=blob.add(m.positions.astype(f32), g.FLOAT, g.VEC3, g.ARRAY_BUFFER, minmax=True),
        NORMAL=blob.add(m.normals.astype(f32), g.FLOAT, g.VEC3, g.ARRAY_BUFFER),
        JOINTS_0=blob.add(m.joints.astype(np.uint8 if len(m.joint_names) <= 256 else np.uint16),
                          g.UNSIGNED_BYTE if len(m.joint_names) <= 256 else g.UNSIGNED_SHORT,
                          g.VEC4, g.ARRAY_BUFFER),
        WEIGHTS_0=blob.add(m.weights.astype(f32), g.FLOAT, g.VEC4, g.ARRAY_BUFFER))
    if m.texcoords is not None:
        attrs.TEXCOORD_0 = blob.add(m.texcoords.astype(f32), g.FLOAT, g.VEC2, g.ARRAY_BUFFER)
    if m.tangents is not None:
        attrs.TANGENT = blob.add(m.tangents.astype(f32), g.FLOAT, g.VEC4, g.ARRAY_BUFFER)
    if m.colors is not None:
        rgba = np.round(np.clip(m.colors, 0.0, 1.0) * 255.0).astype(np.uint8)
        attrs.COLOR_0 = blob.add(rgba, g.UNSIGNED_BYTE, g.VEC4, g.ARRAY_BUFFER, normalized=True)
    idx = np.asarray(m.indices).reshape(-1)
    small = len(m.positions) < 65535
    indices = blob.add(idx.astype(np.uint16 if small else np.uint32),
                       g.UNSIGNED_SHORT if small else g.UNSIGNED_INT, g.SCALAR,
                       g.ELEMENT_ARRAY_BUFFER, minmax=True)

    jp = np.asarray(m.joint_positions, dtype=np.float64)
    ibm = np.tile(np.eye(4, dtype=f32), (len(jp), 1, 1))
    ibm[:, :3, 3] = -jp
    # glTF matrices are column-major: write the transpose's rows
    ibm_acc = blob.add(np.transpose(ibm, (0, 2, 1)).reshape(len(jp), 16), g.FLOAT, g.MAT4, None)

    def texture(png: bytes | None) -> int | None:
        if png is None:
            return None
        raw = blob.add(np.frombuffer(png, np.uint8), g.UNSIGNED_BYTE, g.SCALAR, None)
        view = gltf.accessors.pop(raw).bufferView           # images use the view, not an accessor
        gltf.images.append(g.Image(bufferView=view, mimeType="image/png"))
        if not gltf.samplers:
            gltf.samplers.append(g.Sampler(magFilter=g.LINEAR, minFilter=g.LINEAR_MIPMAP_LINEAR,
                                           wrapS=g.CLAMP_TO_EDGE, wrapT=g.CLAMP_TO_EDGE))
        gltf.textures.append(g.Texture(sampler=0, source=len(gltf.images) - 1))
        return len(gltf.textures) - 1

    base_tex, normal_tex = texture(m.base_color_png), texture(m.normal_png)
    gltf.materials.append(g.Material(
        name="skin", doubleSided=False,
        normalTexture=None if normal_tex is None else g.NormalMaterialTexture(index=normal_tex),
        pbrMetallicRoughness=g.PbrMetallicRoughness(
            baseColorFactor=[float(c) for c in m.base_color], metallicFactor=0.0,
            baseColorTexture=None if base_tex is None else g.TextureInfo(index=base_tex),
            roughnessFactor=float(m.roughness))))
    targets = [g.Attributes(
        POSITION=blob.add(dp.astype(f32), g.FLOAT, g.VEC3, g.ARRAY_BUFFER, minmax=True),
        NORMAL=blob.add(dn.astype(f32), g.FLOAT, g.VEC3, g.ARRAY_BUFFER))
        for _, dp, dn in m.morph_targets]
    gltf.meshes.append(g.Mesh(
        name=m.name, primitives=[g.Primitive(attributes=attrs, indices=indices, material=0,
                                             mode=g.TRIANGLES, targets=targets or None)],
        weights=[0.0] * len(targets) or None,
        extras={"targetNames": [name for name, _, _ in m.morph_targets]} if targets else None))
    gltf.nodes.append(g.Node(name=m.name, mesh=0, skin=0))
    for j, name in enumerate(m.joint_names):
        parent = m.joint_parents[j]
        local = jp[j] - (jp[parent] if parent >= 0 else 0.0)
        gltf.nodes.append(g.Node(name=name, translation=[float(v) for v in local]))
    for j, parent in enumerate(m.joint_parents):
        if parent >= 0:
            gltf.nodes[parent + 1].children.append(j + 1)
    gltf.skins.append(g.Skin(name=f"{m.name}_skin", joints=list(range(1, len(jp) + 1)),
                             skeleton=1, inverseBindMatrices=ibm_acc))
    gltf.scenes.append(g.Scene(name=m.name, nodes=[0, 1]))
    gltf.scene = 0
    gltf.extras = dict(m.extras)
    gltf.buffers.append(g.Buffer(byteLength=len(blob.data)))
    gltf.set_binary_blob(bytes(blob.data))
    return b"".join(gltf.save_to_bytes())


_NUMPY = {g.FLOAT: np.float32, g.UNSIGNED_BYTE: np.uint8, g.UNSIGNED_SHORT: np.uint16,
          g.UNSIGNED_INT: np.uint32}
_WIDTH = {g.SCALAR: 1, g.VEC2: 2, g.VEC3: 3, g.VEC4: 4, g.MAT4: 16}


def _read(gltf: g.GLTF2, blob: bytes, index: int) -> np.ndarray:
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    dtype = np.dtype(_NUMPY[acc.componentType])
    width = _WIDTH[acc.type]
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    arr = np.frombuffer(blob, dtype=dtype, count=acc.count * width, offset=start)
    arr = arr.reshape(acc.count, width) if width > 1 else arr
    if acc.normalized:
        return arr.astype(np.float64) / np.iinfo(dtype).max
    return arr


def read_skinned_mesh(data: bytes) -> SkinnedMesh:
    """Read back a .glb written by :func:`skinned_mesh_glb` (arrays in glTF axes)."""
    try:
        gltf = g.GLTF2.load_from_bytes(data)
        blob = gltf.binary_blob()
        node = gltf.nodes[0]
        prim = gltf.meshes[node.mesh].primitives[0]
        skin = gltf.skins[node.skin]
    except Exception as exc:  # pygltflib raises many kinds on a bad file
        raise GltfError(f"not a vrgmi limb model: {exc}") from None
    a = prim.attributes
    names = (gltf.meshes[node.mesh].extras or {}).get("targetNames", [])
    morphs = tuple((name, _read(gltf, blob, t["POSITION"]).astype(np.float64),
                    _read(gltf, blob, t["NORMAL"]).astype(np.float64))
                   for name, t in zip(names, prim.targets or []))
    index_of = {n: i for i, n in enumerate(skin.joints)}
    parents = [-1] * len(skin.joints)
    for n in skin.joints:
        for c in gltf.nodes[n].children:
            parents[index_of[c]] = index_of[n]
    pos = np.zeros((len(skin.joints), 3))
    for i, n in enumerate(skin.joints):
        t = np.asarray(gltf.nodes[n].translation or [0.0, 0.0, 0.0])
        pos[i] = t + (pos[parents[i]] if parents[i] >= 0 else 0.0)
    return SkinnedMesh(
        name=node.name,
        positions=_read(gltf, blob, a.POSITION).astype(np.float64),
        normals=_read(gltf, blob, a.NORMAL).astype(np.float64),
        indices=_read(gltf, blob, prim.indices).astype(np.int64).reshape(-1, 3),
        joints=_read(gltf, blob, a.JOINTS_0).astype(np.int64),
        weights=_read(gltf, blob, a.WEIGHTS_0).astype(np.float64),
        joint_names=tuple(gltf.nodes[n].name for n in skin.joints),
        joint_parents=tuple(parents),
        joint_positions=pos,
        texcoords=None if a.TEXCOORD_0 is None else _read(gltf, blob, a.TEXCOORD_0).astype(np.float64),
        tangents=None if a.TANGENT is None else _read(gltf, blob, a.TANGENT).astype(np.float64),
        colors=None if a.COLOR_0 is None else _read(gltf, blob, a.COLOR_0),
        base_color=tuple(gltf.materials[prim.material].pbrMetallicRoughness.baseColorFactor),
        roughness=gltf.materials[prim.material].pbrMetallicRoughness.roughnessFactor,
        extras=dict(gltf.extras or {}),
        morph_targets=morphs)
