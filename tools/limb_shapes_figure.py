#!/usr/bin/env python3
"""Render docs/img/limb-shapes.png: the right forearm and hand, and the lower leg and foot,
seen from the side, in pairs of ``[limb_shape]`` settings (slim / heavy, young / old,
small / large hand or foot), offscreen with the engine's own LimbRig and skin shader.

    python tools/limb_shapes_figure.py [--out docs/img/limb-shapes.png]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from panda3d.core import AmbientLight, DirectionalLight, OrthographicLens  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from vrgmi.render.display import grab_rgba, open_display  # noqa: E402
from vrgmi.render.rig import LimbRig  # noqa: E402
from vrgmi.render.shaders import SKIN, load_shader  # noqa: E402
from vrgmi.render.skin import SkinLook  # noqa: E402
from vrgmi.settings import LimbShapeSettings  # noqa: E402

#: (label, limb, settings) per panel, in pairs
PANELS = [("slim", "arm", {"build": -1.0}), ("heavy", "arm", {"build": 1.0}),
          ("25 years", "arm", {}), ("90 years", "arm", {"age_years": 90.0}),
          ("hand 0.9", "arm", {"hand_size": 0.9}), ("hand 1.15", "arm", {"hand_size": 1.15}),
          ("female", "leg", {"sex": -1.0}), ("male", "leg", {"sex": 1.0}),
          ("foot 0.9", "leg", {"foot_size": 0.9}), ("foot 1.15", "leg", {"foot_size": 1.15})]
#: the part of each limb shown: centre forward and up from the root joint, film height (m),
#: with a margin round the fingertips and toes of the largest hand and foot
FRAME = {"arm": (0.0, -0.62, 0.46), "leg": (0.09, -0.76, 0.46)}
#: the square render (px) each panel is cut from, and each limb's panel width (px)
SIZE = (240, 240)
WIDTH = {"arm": 160, "leg": 240}
#: the label strip above each picture (px), so no label sits over a limb
STRIP = 18


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "limb-shapes.png")
    args = ap.parse_args(argv)
    display = open_display("headless", size=SIZE)
    base = display.base
    base.win.set_clear_color((1.0, 1.0, 1.0, 1.0))
    shader = load_shader(*SKIN, gsg=base.win.get_gsg())
    root = base.render.attach_new_node("figure")
    sun = root.attach_new_node(DirectionalLight("sun"))
    sun.set_hpr(60, -30, 0)
    root.set_light(sun)
    sky = root.attach_new_node(AmbientLight("sky"))
    sky.node().set_color((0.35, 0.35, 0.38, 1.0))
    root.set_light(sky)
    rigs = {limb: LimbRig(root, limb, 1, 1.75, shader, SkinLook()) for limb in FRAME}
    tiles = []
    for label, limb, shape in PANELS:
        for other, rig in rigs.items():
            rig.root.show() if other == limb else rig.root.hide()
        rigs[limb].set_shape(LimbShapeSettings(**shape))
        y, z, film = FRAME[limb]
        lens = OrthographicLens()
        lens.set_film_size(film, film)
        lens.set_near_far(0.1, 10.0)
        base.cam.node().set_lens(lens)
        base.cam.set_pos(3.0, y, z)
        base.cam.look_at(0.0, y, z)
        w, x0 = WIDTH[limb], (SIZE[0] - WIDTH[limb]) // 2
        tile = Image.new("RGB", (w, SIZE[1] + STRIP), (255, 255, 255))
        tile.paste(Image.fromarray(grab_rgba(base)[:, x0:x0 + w, :3]), (0, STRIP))
        ImageDraw.Draw(tile).text((w // 2, STRIP // 2), label, fill=(30, 30, 30), anchor="mm")
        tiles.append(np.asarray(tile))
    sheet = np.hstack(tiles)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).quantize(128).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")
    display.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
