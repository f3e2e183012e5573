"""Reading an eye's swapchain image back: where a limb's joints project in each eye, and does
the limb show there? (the headset tests' children and their checks)"""
from __future__ import annotations

import numpy as np
from panda3d.core import Point2, Point3


def _skin(px: np.ndarray) -> bool:
    r, g, b = (int(v) for v in px[:3])
    return r > g > b and r - b > 45


def skin_near(img: np.ndarray, points: np.ndarray) -> tuple[int, int]:
    """(joints inside the image, joints with a skin-coloured pixel within 1 px)."""
    h, w = img.shape[:2]
    inside = [(int(x), int(y)) for x, y in points if 0 <= x < w and 0 <= y < h]
    skin = sum(any(_skin(img[min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)])
                   for dx in (-1, 0, 1) for dy in (-1, 0, 1)) for x, y in inside)
    return len(inside), skin


def project_joints(runner) -> dict[str, np.ndarray]:
    """Where each limb's joints land in each eye's image (pixels)."""
    eyes, render, core = runner.link.eyes, runner.display.base.render, runner.engine.core
    out = {}
    for i, cam in enumerate(eyes.cameras):
        w, h = eyes.size[i]
        for limb, positions in (("intact", core.intact.positions),
                                ("phantom", core.phantom.positions)):
            pts = []
            for p in positions:
                q = Point2()
                if eyes.lenses[i].project(cam.get_relative_point(render, Point3(*p)), q):
                    pts.append(((q[0] + 1) / 2 * w, (1 - q[1]) / 2 * h))
            out[f"{limb}{i}"] = np.array(pts).reshape(-1, 2)
    return out
