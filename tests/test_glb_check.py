"""Damaged limb models: every kind is a one-line error before Panda3D sees the file (a
truncated one used to crash the process), and the shipped models pass."""
from __future__ import annotations

import json
import struct
import subprocess
import sys

import pytest

from vrgmi.assets.glb_check import GlbError, check_glb
from vrgmi.render.resources import model_file

ARM = model_file("limbs/arm_right.glb")
LEG = model_file("limbs/leg_right.glb")


def _split(data: bytes) -> tuple[dict, bytes]:
    (json_len,) = struct.unpack_from("<I", data, 12)
    doc = json.loads(data[20:20 + json_len])
    return doc, data[20 + json_len:]


def _glb(doc: dict, rest: bytes) -> bytes:
    raw = json.dumps(doc).encode()
    raw += b" " * (-len(raw) % 4)
    body = struct.pack("<II", len(raw), 0x4E4F534A) + raw + rest
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def _damaged() -> dict[str, bytes]:
    data = ARM.read_bytes()
    doc, rest = _split(data)
    out = {"empty": b"", "garbled_binary": bytes(range(256)) * 40,
           "garbled_json": data[:20] + b"{not json" + data[29:],
           "truncated_half": data[: len(data) // 2], "truncated_header": data[:10],
           "truncated_last_byte": data[:-1], "version_1": data[:4] + b"\x01" + data[5:]}
    bad = json.loads(json.dumps(doc))
    bad["accessors"][0]["count"] *= 1000                       # reads past its buffer view
    out["accessor_past_view"] = _glb(bad, rest)
    bad = json.loads(json.dumps(doc))
    bad["bufferViews"][0]["buffer"] = 7                        # a buffer that does not exist
    out["missing_buffer"] = _glb(bad, rest)
    bad = json.loads(json.dumps(doc))
    bad["nodes"][0]["children"] = [10 ** 6]
    out["missing_node"] = _glb(bad, rest)
    bad = json.loads(json.dumps(doc))
    bad["buffers"][0]["byteLength"] += 4096                    # more than the BIN chunk holds
    out["short_bin"] = _glb(bad, rest)
    deep = b"[" * 100_000 + b"]" * 100_000
    body = struct.pack("<II", len(deep), 0x4E4F534A) + deep
    out["deep_json"] = struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body
    return out


DAMAGED = _damaged()


def test_shipped_models_pass():
    check_glb(ARM)
    check_glb(LEG)


@pytest.mark.parametrize("kind", sorted(DAMAGED))
def test_damaged_model_is_one_line(tmp_path, kind):
    path = tmp_path / "arm_right.glb"
    path.write_bytes(DAMAGED[kind])
    with pytest.raises(GlbError) as err:
        check_glb(path)
    text = str(err.value)
    assert "\n" not in text and len(text) <= 200 and text.startswith("arm_right.glb: ")


def test_joint_index_past_the_skin(tmp_path):
    """Garbled vertex data inside a well-formed file: a JOINTS_0 value past the skin's
    joints is caught by reading the data."""
    data = ARM.read_bytes()
    doc, rest = _split(data)
    prim = doc["meshes"][0]["primitives"][0]
    acc = doc["accessors"][prim["attributes"]["JOINTS_0"]]
    view = doc["bufferViews"][acc["bufferView"]]
    at = 8 + view.get("byteOffset", 0) + acc.get("byteOffset", 0)   # 8: BIN chunk header
    patched = bytearray(rest)
    patched[at] = 250
    path = tmp_path / "arm_right.glb"
    path.write_bytes(_glb(doc, bytes(patched)))
    with pytest.raises(GlbError, match="JOINTS_0 names joint 250"):
        check_glb(path)


@pytest.mark.parametrize("kind", ["truncated_half", "garbled_json", "empty"])
def test_engine_refuses_a_damaged_model_in_one_line(tmp_path, kind):
    """Through the real rig in a fresh process (a truncated model used to kill it, exit
    139): the damaged file stands in for the shipped one; one line, no traceback."""
    path = tmp_path / "arm_right.glb"
    path.write_bytes(DAMAGED[kind])
    code = f"""
import sys
from vrgmi.render import rig
from vrgmi.render.display import open_display
from vrgmi.render.skin import SkinLook
rig.model_file = lambda _name: __import__('pathlib').Path({str(path)!r})
display = open_display("headless", size=(64, 64))
try:
    rig.LimbRig(display.base.render, "arm", 1, 1.75, None, SkinLook(lighting=False))
except rig.RigError as exc:
    print("ERR", exc)
    sys.exit(2)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    line = done.stdout.strip()
    assert line.startswith("ERR limb model damaged: arm_right.glb: ")
    assert "\n" not in line and len(line) <= 4 + 193 and "Traceback" not in done.stderr
