"""Colour spaces: every vrgmi shader works in linear RGB and the output is sRGB
(the IEC 61966-2-1 curve, the same as ``linear_to_srgb`` in shaders/lighting.glsl)."""
from __future__ import annotations

import re

import numpy as np

from vrgmi.errors import VrgmiError

_HEX = re.compile(r"#[0-9a-fA-F]{6}")


class ColorError(VrgmiError, ValueError):
    """A colour is written wrongly."""


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB-encoded components in 0..1 -> linear."""
    c = np.clip(np.asarray(srgb, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Linear components in 0..1 -> sRGB-encoded (the inverse of srgb_to_linear)."""
    c = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1.0 / 2.4) - 0.055)


def hex_to_srgb(code: str) -> tuple[float, float, float]:
    """``"#rrggbb"`` -> its sRGB-encoded components in 0..1."""
    if not _HEX.fullmatch(code):
        raise ColorError(f"colour {code!r} is not written #rrggbb")
    return tuple(int(code[i:i + 2], 16) / 255.0 for i in (1, 3, 5))


def hex_to_linear(code: str) -> tuple[float, float, float]:
    """``"#rrggbb"`` (sRGB, as colour pickers give it) -> linear RGB."""
    return tuple(float(v) for v in srgb_to_linear(np.array(hex_to_srgb(code))))


def hex_for_framebuffer(code: str, linear: bool) -> tuple[float, float, float]:
    """A ``"#rrggbb"`` colour for unshaded geometry: linear where the framebuffer encodes
    sRGB itself (``linear``), else as given (the software renderer draws values as they
    are)."""
    return hex_to_linear(code) if linear else hex_to_srgb(code)
