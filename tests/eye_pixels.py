"""Reading an eye's swapchain image back: does a limb show where its joints project?"""
from __future__ import annotations

import numpy as np


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
