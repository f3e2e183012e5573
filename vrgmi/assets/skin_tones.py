"""Skin tone palette for the virtual limbs, covering Fitzpatrick skin types I-VI.

The swatches are the ten tones of the Monk Skin Tone (MST) scale (E. Monk, 2019; published
by Google in 2022 with these sRGB values, skintone.google), named ``"MST 1"`` ..
``"MST 10"``, plus four tones per Fitzpatrick type, named ``"I-1"`` .. ``"VI-4"``, evenly
spaced in ITA (below) within the type's range on the line through the MST swatches in
CIE L*a*b* (D65): 34 tones, lightest first.

Each tone is assigned a Fitzpatrick type from its Individual Typology Angle,
ITA = atan((L* - 50) / b*) in degrees (Chardon, Cretois & Hourseau 1991, Int J Cosmet Sci
13:191), with the skin-colour categories of Del Bino et al. 2006 (Br J Dermatol
155:1098): very light > 55 (I), light 41..55 (II), intermediate 28..41 (III),
tan 10..28 (IV), brown -30..10 (V), dark < -30 (VI). ITA categories track constitutive
pigmentation and so the Fitzpatrick phototypes only approximately; the mapping is a
convenience for choosing a tone, not a clinical classification.

The limb models' base colour is neutral white; the shader multiplies it by the chosen
tone's linear RGB (times the model's detail texture). Nails (the nail mask in the models'
normal map alpha) use :func:`nail_color`, palms and soles :func:`palmar_color`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vrgmi.errors import VrgmiError

#: Monk Skin Tone scale, MST 1 (lightest) .. MST 10 (darkest), sRGB hex
MONK_HEX = ("f6ede4", "f3e7db", "f7ead0", "eadaba", "d7bd96",
            "a07e56", "825c43", "604134", "3a312a", "292420")
#: tones per Fitzpatrick type besides the MST swatches
PER_TYPE = 4
#: lower ITA bound (degrees) of Fitzpatrick types I..V (VI is everything below -30)
ITA_BOUNDS = (55.0, 41.0, 28.0, 10.0, -30.0)
_ROMAN = ("I", "II", "III", "IV", "V", "VI")

_WHITE = np.array([0.95047, 1.0, 1.08883])   # D65
_SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                         [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]])


class SkinToneError(VrgmiError, ValueError):
    """An unknown skin tone name or index."""


@dataclass(frozen=True)
class SkinTone:
    """One palette entry: ``srgb`` (display, gamma-encoded) and ``linear`` (for shaders)
    RGB in 0..1, its hex code, ITA in degrees and Fitzpatrick type 1..6."""
    index: int
    name: str
    srgb: tuple[float, float, float]
    linear: tuple[float, float, float]
    hex: str
    ita: float
    fitzpatrick: int


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB transfer function decoded (IEC 61966-2-1)."""
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    """sRGB transfer function encoded (IEC 61966-2-1)."""
    c = np.clip(np.asarray(c, dtype=np.float64), 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1.0 / 2.4) - 0.055)


def _lab(linear: np.ndarray) -> np.ndarray:
    xyz = (_SRGB_TO_XYZ @ linear) / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _linear(lab: np.ndarray) -> np.ndarray:
    fy = (lab[0] + 16) / 116
    f = np.array([fy + lab[1] / 500, fy, fy - lab[2] / 200])
    xyz = np.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _WHITE
    return np.clip(np.linalg.solve(_SRGB_TO_XYZ, xyz), 0.0, 1.0)


def ita_degrees(linear_rgb) -> float:
    """Individual Typology Angle of a linear-sRGB colour."""
    lab = _lab(np.asarray(linear_rgb, dtype=np.float64))
    return float(np.degrees(np.arctan2(lab[0] - 50.0, lab[2])))


def fitzpatrick_from_ita(ita: float) -> int:
    """Fitzpatrick type 1..6 of an ITA value (Del Bino et al. 2006 categories)."""
    return 1 + sum(ita <= bound for bound in ITA_BOUNDS)


def _tone(name: str, lab: np.ndarray) -> SkinTone:
    lin = _linear(lab)
    srgb = linear_to_srgb(lin)
    ita = ita_degrees(lin)
    return SkinTone(index=0, name=name, srgb=tuple(float(round(c, 4)) for c in srgb),
                    linear=tuple(float(round(c, 5)) for c in lin),
                    hex="".join(f"{int(round(c * 255)):02x}" for c in srgb),
                    ita=round(ita, 1), fitzpatrick=fitzpatrick_from_ita(ita))


def _at_ita(labs: list[np.ndarray], target: float) -> np.ndarray:
    """The point of the MST polyline (L*a*b*) whose ITA is ``target`` (ITA falls along it)."""
    itas = [ita_degrees(_linear(lab)) for lab in labs]
    k = next(i for i in range(len(labs) - 1) if itas[i + 1] <= target)
    lo, hi = 0.0, 1.0
    for _ in range(50):
        t = 0.5 * (lo + hi)
        if ita_degrees(_linear((1 - t) * labs[k] + t * labs[k + 1])) > target:
            lo = t
        else:
            hi = t
    return (1 - t) * labs[k] + t * labs[k + 1]


def _build() -> tuple[SkinTone, ...]:
    labs = [_lab(srgb_to_linear(np.array([int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)])))
            for h in MONK_HEX]
    tones = [_tone(f"MST {k + 1}", lab) for k, lab in enumerate(labs)]
    top, bottom = tones[0].ita, tones[-1].ita
    bounds = (top,) + ITA_BOUNDS + (bottom,)
    for f in range(6):
        hi, lo = min(bounds[f], top), max(bounds[f + 1], bottom)
        for k in range(PER_TYPE):
            target = hi - (k + 0.5) * (hi - lo) / PER_TYPE
            tones.append(_tone(f"{_ROMAN[f]}-{k + 1}", _at_ita(labs, target)))
    tones.sort(key=lambda t: -t.ita)
    return tuple(SkinTone(i, t.name, t.srgb, t.linear, t.hex, t.ita, t.fitzpatrick)
                 for i, t in enumerate(tones))


#: every tone, lightest first
PALETTE: tuple[SkinTone, ...] = _build()
_BY_NAME = {t.name.lower(): t for t in PALETTE}
#: the tone the engine starts with when none is chosen (MST 5, Fitzpatrick II)
DEFAULT_TONE = _BY_NAME["mst 5"]


def get_tone(name_or_index: str | int) -> SkinTone:
    """A palette tone by index (0..len-1) or name (``"MST 5"``, ``"III-2"``; case and
    spaces do not matter); raises SkinToneError with a one-line message."""
    if isinstance(name_or_index, (int, np.integer)) and not isinstance(name_or_index, bool):
        if 0 <= name_or_index < len(PALETTE):
            return PALETTE[int(name_or_index)]
        raise SkinToneError(f"skin tone index {name_or_index} is outside 0..{len(PALETTE) - 1}")
    if isinstance(name_or_index, str):
        key = " ".join(name_or_index.lower().replace("mst", "mst ").split())
        if key in _BY_NAME:
            return _BY_NAME[key]
        raise SkinToneError(f"unknown skin tone {name_or_index!r}: use 'MST 1'..'MST 10', "
                            f"'I-1'..'VI-{PER_TYPE}' or an index 0..{len(PALETTE) - 1}")
    raise SkinToneError(f"a skin tone is a name or an index, not {type(name_or_index).__name__}")


def tones_for_type(fitzpatrick: int) -> tuple[SkinTone, ...]:
    """The palette tones of one Fitzpatrick type (1..6), lightest first."""
    if fitzpatrick not in range(1, 7):
        raise SkinToneError(f"Fitzpatrick type {fitzpatrick!r} is not one of 1..6")
    return tuple(t for t in PALETTE if t.fitzpatrick == fitzpatrick)


#: nails: the nail bed takes the skin's own colour moved this far toward its palmar colour
#: (the bed has little melanin, like the palms: pinkish on light skin, a lighter brown on
#: dark skin, never a fixed pink) ...
NAIL_BED_PALMAR = 0.65
#: ... seen through a slightly milky, translucent plate: this share of a pale warm colour
#: (linear RGB) over the bed
NAIL_PLATE = np.array([0.78, 0.66, 0.62])
NAIL_PLATE_MIX = 0.12


def nail_color(tone: SkinTone | tuple[float, float, float]) -> tuple[float, float, float]:
    """Linear RGB for the nails on a limb of ``tone`` (a palette tone or linear RGB): the
    skin's colour lightened toward its palmar colour (the nail bed), under a translucent
    plate; lighter than the skin on every tone from Fitzpatrick II, the skin's hue kept."""
    linear = np.asarray(getattr(tone, "linear", tone), dtype=np.float64)
    bed = (1.0 - NAIL_BED_PALMAR) * linear + NAIL_BED_PALMAR * np.asarray(palmar_color(linear))
    return tuple(float(c) for c in (1.0 - NAIL_PLATE_MIX) * bed + NAIL_PLATE_MIX * NAIL_PLATE)


#: palms and soles: the tone moved toward a target colour (linear RGB) that runs from this
#: light, pinkish one on light skin (the capillary bed shows through) ...
PALMAR_PINK = np.array([0.75, 0.50, 0.43])
#: ... to this warm tan (sRGB #c69c7c) on dark skin, whose palms and soles are a lighter
#: brown, not pink; the target changes over relative luminance PALMAR_TAN_LUMINANCE
#: (all pink above the first, all tan below the second, smoothstep between) ...
PALMAR_TAN = np.array([0.5647, 0.3324, 0.2016])
PALMAR_TAN_LUMINANCE = (0.4, 0.1)
#: ... by a fraction that grows as the skin darkens (from the first number at relative
#: luminance PALMAR_LUMINANCE and above to the second at 0). Palmar and plantar skin has far
#: less melanin than the rest on every skin type, so the contrast is small and mostly
#: pinker on very light skin and large on dark skin (most visible from Fitzpatrick IV to VI).
PALMAR_MIX = (0.25, 0.55)
PALMAR_LUMINANCE = 0.8


def palmar_color(tone: SkinTone | tuple[float, float, float]) -> tuple[float, float, float]:
    """Linear RGB of the palms and soles of a limb of ``tone``."""
    linear = np.asarray(getattr(tone, "linear", tone), dtype=np.float64)
    luminance = float(linear @ [0.2126, 0.7152, 0.0722])
    pink_above, tan_below = PALMAR_TAN_LUMINANCE
    t = min(max((pink_above - luminance) / (pink_above - tan_below), 0.0), 1.0)
    t = t * t * (3.0 - 2.0 * t)
    target = (1.0 - t) * PALMAR_PINK + t * PALMAR_TAN
    lo, hi = PALMAR_MIX
    k = hi - (hi - lo) * min(luminance / PALMAR_LUMINANCE, 1.0)
    return tuple(float(c) for c in (1.0 - k) * linear + k * target)
