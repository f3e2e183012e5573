"""The virtual limb's skin: the tone palette, the shading look, the stump blend, and putting
the skin shader (hardware skinning) on a rigged limb."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from panda3d.core import (NodePath, PNMImage, Shader, ShaderAttrib, Texture, TransparencyAttrib, Vec2,
                          Vec3)

from vrgmi.assets.skin_tones import (SkinToneError, get_tone, nail_color, palmar_color,
                                     tones_for_type)
from vrgmi.errors import VrgmiError
from vrgmi.render.color import ColorError, hex_to_linear, linear_to_srgb


class SkinError(VrgmiError, ValueError):
    """A skin tone or stump blend setting is wrong."""


_ROMAN = ("I", "II", "III", "IV", "V", "VI")
#: plain-word aliases for the Fitzpatrick types
TONE_NAMES = {"pale": "I", "fair": "II", "medium": "III", "olive": "IV", "brown": "V",
              "dark": "VI"}


def skin_tone(spec: str) -> tuple[float, float, float]:
    """Linear RGB of a skin tone from the palette (vrgmi.assets.skin_tones): a Fitzpatrick
    type ``"I"``..``"VI"`` (its second-lightest swatch) or a plain name (pale .. dark), a
    palette name (``"MST 5"``, ``"III-2"``) or an sRGB ``"#rrggbb"``."""
    key = spec.strip()
    if key.startswith("#"):
        try:
            return hex_to_linear(key)
        except ColorError:
            raise SkinError(f"skin tone {spec!r} is not written #rrggbb") from None
    roman = TONE_NAMES.get(key.lower(), key.upper())
    if roman in _ROMAN:
        return tones_for_type(_ROMAN.index(roman) + 1)[1].linear
    try:
        return get_tone(key).linear
    except SkinToneError:
        raise SkinError(f"skin tone {spec!r} is not a Fitzpatrick type I-VI, one of "
                        f"{', '.join(TONE_NAMES)}, a palette name like 'MST 5' or 'III-2', "
                        "or #rrggbb") from None


@dataclass(frozen=True)
class SkinLook:
    """How the skin is shaded (colours linear RGB). ``lighting=False`` draws the tone flat,
    exactly as given (calibration views, tests)."""

    tone: tuple[float, float, float] = skin_tone("III")
    lighting: bool = True
    wrap: float = 0.5                       # half-Lambert-like softness
    scatter_color: tuple[float, float, float] = (0.80, 0.22, 0.12)
    scatter_strength: float = 0.30          # reddish warmth where light turns away
    rim_color: tuple[float, float, float] = (0.30, 0.31, 0.34)
    rim_strength: float = 0.35              # gentle edge light that separates the limb
    normal_strength: float = 1.0            # the normal map's creases, lines, tendons
    specular: float = 0.028                 # skin's reflectance at normal incidence
    gloss: float = 24.0                     # Blinn-Phong exponent of the skin's sheen

    def __post_init__(self) -> None:
        for name in ("tone", "scatter_color", "rim_color"):
            if not all(0.0 <= c <= 1.0 for c in getattr(self, name)):
                raise SkinError(f"skin {name} {getattr(self, name)!r} is outside 0..1 (linear)")
        for name in ("wrap", "scatter_strength", "rim_strength", "normal_strength", "specular"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise SkinError(f"skin {name} {getattr(self, name)!r} is outside 0..1")
        if not 1.0 <= self.gloss <= 256.0:
            raise SkinError(f"skin gloss {self.gloss!r} is outside 1..256")


@dataclass(frozen=True)
class StumpBlend:
    """Opacity along the rest-pose limb axis, ``d`` metres from the limb root:
    ``residual_alpha`` up to the stump end (d <= distance), ``phantom_alpha`` beyond
    ``distance + width``, and a smoothstep between them (no edge anywhere).

    Defaults: both 1.0. A nearly-solid phantom over a light table reads as faded on dark
    skin and not at all on pale skin, so any default translucency would treat patients
    unequally; an opaque phantom is believable as their own for every skin tone, and the
    join is seamless. A therapist may ask for a ghostlier phantom (``phantom_alpha`` < 1);
    with passthrough (the real residual seen through the headset cameras)
    ``residual_alpha = 0`` makes the phantom fade in over ``width`` from the stump end.
    See docs/rendering.md."""

    distance: float = 0.0
    width: float = 0.04
    residual_alpha: float = 1.0
    phantom_alpha: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.distance <= 2.0:
            raise SkinError(f"stump distance {self.distance!r} m is outside 0..2")
        if not 0.0 <= self.width <= 0.5:
            raise SkinError(f"stump blend width {self.width!r} m is outside 0..0.5")
        for name in ("residual_alpha", "phantom_alpha"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise SkinError(f"stump {name} {getattr(self, name)!r} is outside 0..1")

    def alpha(self, d: np.ndarray | float) -> np.ndarray:
        """The opacity skin.frag draws at limb distance ``d`` (metres), as NumPy."""
        d = np.asarray(d, dtype=np.float64)
        if self.width > 0.0:
            t = np.clip((d - self.distance) / self.width, 0.0, 1.0)
            t = t * t * (3.0 - 2.0 * t)
        else:
            t = (d >= self.distance).astype(np.float64)
        return self.residual_alpha + (self.phantom_alpha - self.residual_alpha) * t


def apply_skin(limb: NodePath, shader: Shader | None, look: SkinLook = SkinLook(),
               stump: StumpBlend = StumpBlend(), root: tuple[float, float, float] = (0, 0, 0),
               axis: tuple[float, float, float] = (0, 0, -1)) -> None:
    """Shade the rigged ``limb`` (a loaded glTF / Character) with the skin shader.

    ``root`` and ``axis`` locate the limb in its REST pose model coordinates (arm and leg:
    root at the origin, axis -Z). With ``shader`` None (software renderer) the limb gets
    the flat sRGB tone and no blend. The limb draws in the transparent bin, after the
    opaque room, with depth writes on: a translucent part blends over the room, and where
    the limb overlaps itself (fingers, hand over forearm) far skin never draws over near
    skin (at worst a translucent near part shows some far skin instead of the room)."""
    if shader is None:
        srgb = linear_to_srgb(look.tone)
        limb.set_color(float(srgb[0]), float(srgb[1]), float(srgb[2]), 1.0, 1)
        return
    limb.set_attrib(ShaderAttrib.make(shader).set_flag(ShaderAttrib.F_hardware_skinning, True))
    set_skin_maps(limb)
    set_skin_look(limb, look)
    set_stump(limb, stump, root, axis)
    set_view_fade(limb)
    limb.set_transparency(TransparencyAttrib.M_alpha)
    limb.set_bin("transparent", 0)
    limb.set_depth_write(True)


def _plain_texture(name: str, rgba: tuple[float, float, float, float]) -> Texture:
    image = PNMImage(1, 1, 4)
    image.fill(*rgba[:3])
    image.alpha_fill(rgba[3])
    tex = Texture(name)
    tex.load(image)
    return tex


#: stand-ins for a model without maps: no detail, no palm, flat normals, no nails
_NO_BASE = _plain_texture("no_base_map", (1.0, 1.0, 1.0, 0.0))
_NO_NORMAL = _plain_texture("no_normal_map", (0.5, 0.5, 1.0, 0.0))


def set_skin_maps(limb: NodePath) -> None:
    """Hand the model's base colour and normal textures (glTF material, loaded by
    panda3d-gltf into the stages "Base Color" and "Normal") to the skin shader."""
    maps = {"Base Color": _NO_BASE, "Normal": _NO_NORMAL}
    for stage in limb.find_all_texture_stages():
        if stage.get_name() in maps:
            tex = limb.find_texture(stage)
            if tex is not None:
                maps[stage.get_name()] = tex
    limb.set_shader_input("base_map", maps["Base Color"])
    limb.set_shader_input("normal_map", maps["Normal"])


def set_skin_look(limb: NodePath, look: SkinLook) -> None:
    """Change the skin look of a limb that :func:`apply_skin` prepared."""
    limb.set_shader_input("skin_tone", Vec3(*look.tone))
    limb.set_shader_input("palm_tone", Vec3(*palmar_color(look.tone)))
    limb.set_shader_input("nail_tone", Vec3(*nail_color(look.tone)))
    limb.set_shader_input("normal_strength", look.normal_strength)
    limb.set_shader_input("specular", look.specular)
    limb.set_shader_input("gloss", look.gloss)
    limb.set_shader_input("lighting", 1.0 if look.lighting else 0.0)
    limb.set_shader_input("wrap", look.wrap)
    limb.set_shader_input("scatter_color", Vec3(*look.scatter_color))
    limb.set_shader_input("scatter_strength", look.scatter_strength)
    limb.set_shader_input("rim_color", Vec3(*look.rim_color))
    limb.set_shader_input("rim_strength", look.rim_strength)


def set_view_fade(limb: NodePath, apex=(0.0, 0.0, 0.0), axis=(0.0, 0.0, 0.0),
                  degrees: tuple[float, float] | None = None) -> None:
    """Fade a prepared limb out across a cone seen from ``apex`` (world): opaque up to
    ``degrees[0]`` off ``axis``, gone from ``degrees[1]`` (the laterality pictures' legs run
    out of the picture); ``degrees`` None turns it off (the default)."""
    if degrees is None:
        cosines = (-1.0, -2.0)
    else:
        start, end = degrees
        if not 0.0 <= start < end <= 90.0:
            raise SkinError(f"view fade {degrees!r} deg must rise from 0..90")
        cosines = (math.cos(math.radians(start)), math.cos(math.radians(end)))
        axis = Vec3(*axis).normalized()
    limb.set_shader_input("view_fade_apex", Vec3(*apex))
    limb.set_shader_input("view_fade_axis", Vec3(*axis))
    limb.set_shader_input("view_fade_cos", Vec2(*cosines))


def set_stump(limb: NodePath, stump: StumpBlend, root: tuple[float, float, float] = (0, 0, 0),
              axis: tuple[float, float, float] = (0, 0, -1)) -> None:
    """Change where the residual limb ends (e.g. after calibration) on a prepared limb."""
    direction = Vec3(*axis)
    if direction.length() < 1e-6:
        raise SkinError(f"limb axis {axis!r} has no direction")
    limb.set_shader_input("limb_root", Vec3(*root))
    limb.set_shader_input("limb_axis", direction.normalized())
    limb.set_shader_input("stump_distance", stump.distance)
    limb.set_shader_input("stump_blend_width", stump.width)
    limb.set_shader_input("residual_alpha", stump.residual_alpha)
    limb.set_shader_input("phantom_alpha", stump.phantom_alpha)
