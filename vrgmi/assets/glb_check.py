"""Check a binary glTF (.glb) file before a loader sees it (no Panda3D here).

Panda3D's glTF loader trusts the file: an empty or garbled one raises deep inside it, a
truncated one crashes the process. :func:`check_glb` reads the file once and raises a
one-line :class:`GlbError` unless: the 12-byte header says ``glTF`` version 2 with the file's
own length; the chunks (JSON first, then an optional BIN) lie within the file; the JSON
parses to a glTF 2.x document; and every index (buffers, buffer views, accessors, nodes,
meshes, skins, images) points at something that exists, every accessor's data lies within
its buffer view and its view within its buffer, and index and joint data point at vertices
and joints that exist.
"""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from vrgmi.errors import VrgmiError

MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
#: bytes per component of each accessor componentType
COMPONENT_SIZE = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
COMPONENT_DTYPE = {5120: "<i1", 5121: "<u1", 5122: "<i2", 5123: "<u2", 5125: "<u4",
                   5126: "<f4"}
#: components of each accessor type
TYPE_COUNT = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
#: the largest model file vrgmi loads (the shipped limbs are about 1 MB)
MAX_BYTES = 256 * 1024 * 1024


class GlbError(VrgmiError, ValueError):
    """A .glb file is not a loadable glTF 2.0 binary (one line naming the file and why)."""


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _Doc:
    """The parsed JSON with index checks that name what they check."""

    def __init__(self, name: str, doc: dict[str, Any]) -> None:
        self.name = name
        self.doc = doc

    def fail(self, what: str) -> GlbError:
        return GlbError(f"{self.name}: {what}")

    def items(self, key: str) -> list[dict[str, Any]]:
        value = self.doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(f"'{key}' must be a list of objects")
        return value

    def ref(self, where: str, value: Any, key: str, required: bool = True) -> int | None:
        if value is None and not required:
            return None
        if not _int(value) or value >= len(self.items(key)):
            raise self.fail(f"{where} points at {key}[{value!r}], which does not exist")
        return value


def _read_header(name: str, data: bytes) -> tuple[bytes, bytes | None]:
    if len(data) < 12:
        raise GlbError(f"{name}: is {len(data)} bytes, too short for a glTF binary header")
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    if magic != MAGIC:
        raise GlbError(f"{name}: is not a glTF binary (.glb) file")
    if version != 2:
        raise GlbError(f"{name}: is glTF binary version {version}, not 2")
    if length != len(data):
        raise GlbError(f"{name}: header says {length} bytes but the file has {len(data)} "
                       "(truncated or padded)")
    chunks: list[tuple[int, bytes]] = []
    offset = 12
    while offset < len(data):
        if offset + 8 > len(data):
            raise GlbError(f"{name}: chunk header at byte {offset} runs past the end")
        size, kind = struct.unpack_from("<II", data, offset)
        if offset + 8 + size > len(data):
            raise GlbError(f"{name}: chunk at byte {offset} claims {size} bytes, past the "
                           "end of the file")
        chunks.append((kind, data[offset + 8:offset + 8 + size]))
        offset += 8 + size
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise GlbError(f"{name}: the first chunk is not the JSON chunk")
    binary = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == CHUNK_BIN else None
    return chunks[0][1], binary


def _parse_json(name: str, raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw.decode("utf-8").rstrip(" \x00"))
    except UnicodeDecodeError:
        raise GlbError(f"{name}: the JSON chunk is not UTF-8 text") from None
    except RecursionError:
        raise GlbError(f"{name}: the JSON chunk is nested too deeply") from None
    except ValueError as exc:
        reason = getattr(exc, "msg", str(exc))[:60]
        raise GlbError(f"{name}: the JSON chunk does not parse ({reason})") from None
    if not isinstance(doc, dict):
        raise GlbError(f"{name}: the JSON chunk is not a glTF object")
    asset = doc.get("asset")
    version = asset.get("version") if isinstance(asset, dict) else None
    if not isinstance(version, str) or not version.startswith("2."):
        raise GlbError(f"{name}: asset.version is {version!r}, not glTF 2.x")
    return doc


def _buffer_sizes(d: _Doc, binary: bytes | None, folder: Path) -> list[int]:
    sizes = []
    for i, buf in enumerate(d.items("buffers")):
        length = buf.get("byteLength")
        if not _int(length):
            raise d.fail(f"buffers[{i}].byteLength is {length!r}")
        uri = buf.get("uri")
        if uri is None:
            if i != 0 or binary is None:
                raise d.fail(f"buffers[{i}] has no uri and there is no BIN chunk for it")
            have = len(binary)
        elif not isinstance(uri, str):
            raise d.fail(f"buffers[{i}].uri is not text")
        elif uri.startswith("data:"):
            have = length            # decoded by the loader; its length is not checked here
        else:
            try:
                have = (folder / uri).stat().st_size
            except (OSError, ValueError):
                raise d.fail(f"buffers[{i}] file {uri[:60]!r} cannot be read") from None
        if length > have:
            raise d.fail(f"buffers[{i}] is {length} bytes but only {have} are there")
        sizes.append(length)
    return sizes


def _check_views(d: _Doc, buffer_sizes: list[int]) -> None:
    for i, view in enumerate(d.items("bufferViews")):
        b = d.ref(f"bufferViews[{i}]", view.get("buffer"), "buffers")
        offset, length = view.get("byteOffset", 0), view.get("byteLength")
        stride = view.get("byteStride", 0)
        if not (_int(offset) and _int(length) and _int(stride)):
            raise d.fail(f"bufferViews[{i}] has a bad byteOffset, byteLength or byteStride")
        if offset + length > buffer_sizes[b]:
            raise d.fail(f"bufferViews[{i}] ends at byte {offset + length}, past its buffer "
                         f"({buffer_sizes[b]} bytes)")


def _check_accessors(d: _Doc) -> list[int]:
    views = d.items("bufferViews")
    counts = []
    for i, acc in enumerate(d.items("accessors")):
        ctype, kind, count = acc.get("componentType"), acc.get("type"), acc.get("count")
        if ctype not in COMPONENT_SIZE or kind not in TYPE_COUNT or not _int(count) \
                or count == 0:
            raise d.fail(f"accessors[{i}] has a bad componentType, type or count")
        v = d.ref(f"accessors[{i}]", acc.get("bufferView"), "bufferViews", required=False)
        offset = acc.get("byteOffset", 0)
        if not _int(offset):
            raise d.fail(f"accessors[{i}].byteOffset is {offset!r}")
        if v is not None:
            elem = COMPONENT_SIZE[ctype] * TYPE_COUNT[kind]
            stride = views[v].get("byteStride") or elem
            end = offset + (count - 1) * stride + elem
            if end > views[v]["byteLength"]:
                raise d.fail(f"accessors[{i}] needs {end} bytes of bufferViews[{v}], which "
                             f"has {views[v]['byteLength']}")
        sparse = acc.get("sparse")
        if sparse is not None:
            if not isinstance(sparse, dict) or not isinstance(sparse.get("indices"), dict) \
                    or not isinstance(sparse.get("values"), dict):
                raise d.fail(f"accessors[{i}].sparse is malformed")
            for part in ("indices", "values"):
                d.ref(f"accessors[{i}].sparse.{part}", sparse[part].get("bufferView"),
                      "bufferViews")
        counts.append(count)
    return counts


def _accessor_max(d: _Doc, i: int, binary: bytes | None) -> int | None:
    """The largest value of an integer SCALAR/VEC4 accessor held in the BIN chunk, or None
    when it cannot be read here (another buffer, sparse, float)."""
    acc = d.items("accessors")[i]
    ctype, v = acc["componentType"], acc.get("bufferView")
    if v is None or ctype == 5126 or binary is None or "sparse" in acc:
        return None
    view = d.items("bufferViews")[v]
    if view["buffer"] != 0 or d.items("buffers")[0].get("uri") is not None:
        return None
    comps = TYPE_COUNT[acc["type"]]
    elem = COMPONENT_SIZE[ctype] * comps
    stride = view.get("byteStride") or elem
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    rows = np.ndarray((acc["count"], comps), dtype=COMPONENT_DTYPE[ctype], buffer=binary,
                      offset=start, strides=(stride, COMPONENT_SIZE[ctype]))
    return int(rows.max())


def _check_scene_graph(d: _Doc, counts: list[int], binary: bytes | None) -> None:
    nodes = d.items("nodes")
    for i, node in enumerate(nodes):
        children = node.get("children", [])
        if not isinstance(children, list):
            raise d.fail(f"nodes[{i}].children is not a list")
        for c in children:
            d.ref(f"nodes[{i}].children", c, "nodes")
        d.ref(f"nodes[{i}].mesh", node.get("mesh"), "meshes", required=False)
        d.ref(f"nodes[{i}].skin", node.get("skin"), "skins", required=False)
    skins = d.items("skins")
    for i, skin in enumerate(skins):
        joints = skin.get("joints")
        if not isinstance(joints, list) or not joints:
            raise d.fail(f"skins[{i}].joints is not a list of nodes")
        for j in joints:
            d.ref(f"skins[{i}].joints", j, "nodes")
        d.ref(f"skins[{i}].inverseBindMatrices", skin.get("inverseBindMatrices"),
              "accessors", required=False)
    fewest_joints = min((len(s["joints"]) for s in skins), default=None)
    for m, mesh in enumerate(d.items("meshes")):
        prims = mesh.get("primitives")
        if not isinstance(prims, list) or not prims or \
                not all(isinstance(p, dict) for p in prims):
            raise d.fail(f"meshes[{m}].primitives is not a list of objects")
        for p, prim in enumerate(prims):
            where = f"meshes[{m}].primitives[{p}]"
            attrs = prim.get("attributes")
            if not isinstance(attrs, dict) or "POSITION" not in attrs:
                raise d.fail(f"{where} has no POSITION attribute")
            for name, a in attrs.items():
                d.ref(f"{where}.{name}", a, "accessors")
            vertices = counts[attrs["POSITION"]]
            if d.ref(f"{where}.indices", prim.get("indices"), "accessors",
                     required=False) is not None:
                top = _accessor_max(d, prim["indices"], binary)
                if top is not None and top >= vertices:
                    raise d.fail(f"{where} indexes vertex {top} of {vertices}")
            for name, a in attrs.items():
                if name.startswith("JOINTS_") and fewest_joints is not None:
                    top = _accessor_max(d, a, binary)
                    if top is not None and top >= fewest_joints:
                        raise d.fail(f"{where}.{name} names joint {top} of {fewest_joints}")
    for i, image in enumerate(d.items("images")):
        d.ref(f"images[{i}].bufferView", image.get("bufferView"), "bufferViews",
              required=False)
    for i, scene in enumerate(d.items("scenes")):
        for n in scene.get("nodes", []) if isinstance(scene.get("nodes", []), list) else [None]:
            d.ref(f"scenes[{i}].nodes", n, "nodes")


def check_glb(path: str | os.PathLike) -> None:
    """Raise :class:`GlbError` (one line) unless ``path`` is a well-formed glTF 2.0 binary
    whose every reference and data range is within the file."""
    path = Path(path)
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise GlbError(f"{name}: is {size} bytes, larger than a limb model may be")
        data = path.read_bytes()
    except FileNotFoundError:
        raise GlbError(f"{name}: file not found") from None
    except OSError as exc:
        raise GlbError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    raw, binary = _read_header(name, data)
    d = _Doc(name, _parse_json(name, raw))
    sizes = _buffer_sizes(d, binary, path.parent)
    _check_views(d, sizes)
    counts = _check_accessors(d)
    _check_scene_graph(d, counts, binary)
