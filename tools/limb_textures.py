"""The limb's generated skin maps (docs/limb-rigs.md, "Surface"): a base colour texture
(RGB: a detail factor the shader multiplies the skin tone by; A: the palmar/plantar
mask) and a tangent-space normal map (RGB; A: the nail mask), in a UV atlas cropped from
MakeHuman's body atlas to the limb and warped so the hand or foot gets most texels.

Every texel gets the rest-pose position and normal of the surface point it covers
(linear interpolation of the vertices over the UV triangulation); the features are
functions of that point and the skeleton: creases are grooves across the bone axes at
the joints, palm and sole lines grooves along curves through the skeleton's knuckles,
tendons and veins low ridges on the dorsum; the nails come from MakeHuman's nail masks.
Heights (mm) become normals by finite differences over the surface. Deterministic.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import LinearNDInterpolator
from scipy.ndimage import gaussian_filter, map_coordinates

SIZE = 1024
#: the nail masks are blurred this much (px of MakeHuman's mask) and the nail plate's edge
#: runs over this range of the blurred mask (0..1)
NAIL_MASK_BLUR_PX = 1.5
NAIL_EDGE = (0.15, 0.4)


@dataclass(frozen=True)
class Maps:
    """PNG bytes of the two textures and the vertices' texture coordinates (glTF: v down)."""
    base_color: bytes
    normal: bytes
    texcoords: np.ndarray


def _png(rgba: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(rgba, 0, 1) * 255).astype(np.uint8), "RGBA").save(
        buf, "PNG", optimize=False, compress_level=9)
    return buf.getvalue()


def _smooth(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray):
    """Distance from points to segment ab, and the parameter along it."""
    ab = b - a
    t = np.clip((p - a) @ ab / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1), t


def _polyline_distance(p: np.ndarray, pts: list[np.ndarray]) -> np.ndarray:
    return np.min([_segment_distance(p, a, b)[0] for a, b in zip(pts[:-1], pts[1:])], axis=0)


def _groove(d: np.ndarray, width_mm: float, depth_mm: float) -> np.ndarray:
    """A crease's height profile (mm) at distance ``d`` (m) from its line."""
    return -depth_mm * np.exp(-(d / (width_mm * 1e-3)) ** 2)


def _joint_creases(p, n, joint, axis, inward, offsets_mm, depth, width, side_weight):
    """Grooves across a bone axis at ``offsets_mm`` from the joint, on the side facing
    ``inward`` (weighted by ``side_weight`` in 0..1 of the normal's alignment)."""
    s = (p - joint) @ axis
    radial = np.linalg.norm((p - joint) - s[:, None] * axis, axis=1)
    near = np.exp(-(radial / 0.016) ** 2)
    side = _smooth((n @ inward - side_weight) / 0.5)
    h = sum(_groove(s - o * 1e-3, width, depth) for o in offsets_mm)
    return h * side * near


def arm_features(p, n, rig):
    """Height (mm), darkening (0..1), palmar mask (0..1) and vein tint for arm texels."""
    dorsal_dir = np.array([1.0, 0.0, 0.0])
    W = rig["wrist"]
    hand = _smooth((W[2] + 0.025 - p[:, 2]) / 0.05)
    # palmar skin fades out over the lateral borders of the hand and the sides of the
    # fingers: 0 with the normal 60 degrees from dorsal, 1 at 60 degrees from palmar
    palmar = hand * _smooth((n @ -dorsal_dir + 0.5) / 1.0)
    dorsal = hand * _smooth((n @ dorsal_dir - 0.1) / 0.5)
    height = np.zeros(len(p))
    for finger in ("thumb", "index", "middle", "ring", "little"):
        names = ([f"thumb_{j}" for j in ("metacarpal", "proximal", "distal", "tip")]
                 if finger == "thumb" else
                 [f"{finger}_{j}" for j in ("metacarpal", "proximal", "intermediate", "distal",
                                            "tip")])
        pts = [rig[x] for x in names]
        for i in range(1, len(pts) - 1):
            axis = _unit(pts[i + 1] - pts[i - 1])
            inward = _unit(np.cross(axis, np.cross(-dorsal_dir, axis)))
            mcp = i == 1
            palm_offsets = (14.0, 17.5) if (mcp and finger != "thumb") else (-1.2, 1.2)
            height += _joint_creases(p, n, pts[i], axis, inward, palm_offsets, 0.4, 0.7, 0.2)
            knuckle = (-3.0, -1.2, 0.6, 2.4) if not mcp else (-2.5, 0.0, 2.5)
            height += _joint_creases(p, n, pts[i], axis, -inward, knuckle, 0.12, 0.6, 0.3)
        if finger != "thumb":                         # extensor tendon over the metacarpal
            d, t = _segment_distance(p, pts[1] + dorsal_dir * 0.008,
                                     W + 0.35 * (pts[0] - W) + dorsal_dir * 0.01)
            height += 0.35 * np.exp(-(d / 0.0035) ** 2) * dorsal * _smooth(1.2 - t)
    # palm lines in the palm's plane (x dropped): heart, head and life lines, wrist creases
    Mi, Mm, Mr, Ml = (rig[f"{f}_proximal"] for f in ("index", "middle", "ring", "little"))
    T1, T2 = rig["thumb_metacarpal"], rig["thumb_proximal"]
    flat = p * [0.0, 1.0, 1.0]
    f = lambda q: q * [0.0, 1.0, 1.0]  # noqa: E731
    lines = [
        [f(Ml + 0.28 * (W - Ml)) - [0, 0.012, 0], f(Mr + 0.24 * (W - Mr)),
         f(Mm + 0.2 * (W - Mm)), f(0.5 * (Mi + Mm) + 0.1 * (W - Mm))],
        [f(0.55 * Mi + 0.45 * T2), f(Mm + 0.36 * (W - Mm)), f(Ml + 0.5 * (W - Ml))],
        [f(0.55 * Mi + 0.45 * T2), f(0.5 * (T1 + T2) + 0.45 * (Mm - T1) * [0, 1, 0.2]),
         f(W + 0.25 * (Mm - W)) + [0, 0.012, 0], f(W) + [0, 0.006, -0.004]],
        [f(W) + [0, 0.02, 0.001], f(W) + [0, -0.02, 0.001]],
        [f(W) + [0, 0.018, 0.009], f(W) + [0, -0.018, 0.009]],
    ]
    depth = (0.5, 0.45, 0.5, 0.3, 0.25)
    palm_lines = sum(_groove(_polyline_distance(flat, pts), 0.8, d)
                     for pts, d in zip(lines, depth))
    height += palm_lines * palmar
    # dorsal veins: the venous network between the metacarpals, joining toward the wrist
    vein = np.zeros(len(p))
    for a, b in ((0.5 * (Mi + Mm), W + [0.0, 0.010, 0.0]), (0.5 * (Mr + Ml), W - [0, 0.012, 0.0]),
                 (0.5 * (Mm + Mr), W + [0.0, -0.004, -0.02])):
        d, t = _segment_distance(f(p), f(a + 0.25 * (W - a)), f(b))
        vein = np.maximum(vein, np.exp(-(d / 0.0025) ** 2) * _smooth(t * 3.0)
                          * _smooth((1.0 - t) * 3.0))
    vein *= dorsal
    height += 0.2 * vein
    return height, palmar, 0.5 * vein


def leg_features(p, n, rig, toes):
    """As :func:`arm_features`, for the leg; ``toes`` are the toe joint chains."""
    sole = rig["heel"][2]
    foot = _smooth((rig["ankle"][2] - p[:, 2]) / 0.02)
    plantar = (foot * _smooth((n @ [0, 0, -1.0] + 0.45) / 0.95)      # over the foot's sides
               * _smooth((sole + 0.045 - p[:, 2]) / 0.04))
    height = np.zeros(len(p))
    up = np.array([0.0, 0.0, 1.0])
    for chain in toes:
        for i in range(1, len(chain) - 1):
            axis = _unit(chain[i + 1] - chain[i - 1])
            height += _joint_creases(p, n, chain[i], axis, -up, (-0.5, 0.5), 0.4, 0.5, 0.2)
            height += _joint_creases(p, n, chain[i], axis, up, (-2.0, 0.0, 2.0), 0.12, 0.35, 0.3)
        d, t = _segment_distance(p, chain[0] + up * 0.01, rig["ankle"] + [0, 0.04, 0.0])
        height += 0.3 * np.exp(-(d / 0.004) ** 2) * foot * _smooth((n @ up - 0.2) / 0.5)
    # sole: the crease where the toes meet the ball
    bases = [chain[0] + (chain[1] - chain[0]) * 0.45 for chain in toes]
    height += _groove(_polyline_distance(p * [1, 1, 0], [q * [1, 1, 0] for q in bases]),
                      0.9, 0.5) * plantar
    return height, plantar, np.zeros(len(p))


def _warp(t: np.ndarray, importance: np.ndarray) -> np.ndarray:
    """A monotone map of 0..1 onto itself that gives each stretch of ``t`` texture room in
    proportion to the importance of the vertices there (histogram equalisation)."""
    hist, edges = np.histogram(t, bins=256, range=(0.0, 1.0), weights=importance)
    hist = np.convolve(hist + 0.02 * hist.sum() / 256, np.ones(9) / 9, mode="same")
    cdf = np.concatenate([[0.0], np.cumsum(hist)])
    return np.interp(t, edges, cdf / cdf[-1])


def skin_textures(kind: str, rig, surface, src, toes=None) -> Maps:
    """Generate the maps for a limb surface (rest pose, engine axes). The limb's part of
    MakeHuman's atlas is cropped and warped so the hand or foot gets most of the texels."""
    uv = surface.uvs
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    pad = 0.01 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    box = np.column_stack([(uv[:, 0] - lo[0]) / (hi[0] - lo[0]),
                           (hi[1] - uv[:, 1]) / (hi[1] - lo[1])])
    distal = rig["wrist"][2] + 0.02 if kind == "arm" else rig["ankle"][2] + 0.03
    importance = 0.1 + (surface.positions[:, 2] < distal)
    texcoords = np.column_stack([_warp(box[:, 0], importance), _warp(box[:, 1], importance)])
    c = (np.arange(SIZE) + 0.5) / SIZE
    gu, gv = np.meshgrid(c, c)                               # gv: row (v down)
    interp = LinearNDInterpolator(texcoords, np.hstack([surface.positions, surface.normals,
                                                        uv]))
    data = interp(gu.ravel(), gv.ravel())
    empty = np.isnan(data[:, 0])
    nearest_fill = np.nan_to_num(data)
    p, n = nearest_fill[:, :3], _unit(nearest_fill[:, 3:6] + 1e-12)
    atlas_u, atlas_v = nearest_fill[:, 6], nearest_fill[:, 7]
    if kind == "arm":
        height, pale, vein = arm_features(p, n, rig)
    else:
        height, pale, vein = leg_features(p, n, rig, toes)
    height[empty] = 0.0
    # nails: MakeHuman's masks (JPEG, ragged at the edge) smoothed, sampled bilinearly at
    # the texel's place in the body atlas, and given a clean, soft edge
    mask = gaussian_filter(src.image("textures/mpfb_fingernails.jpg" if kind == "arm"
                                     else "textures/mpfb_toenails.jpg")[..., 0],
                           NAIL_MASK_BLUR_PX)
    h, w = mask.shape
    nails = map_coordinates(mask, [(1.0 - atlas_v) * h - 0.5, atlas_u * w - 0.5], order=1,
                            mode="nearest")
    nails = _smooth((nails - NAIL_EDGE[0]) / (NAIL_EDGE[1] - NAIL_EDGE[0])) * ~empty
    height += 0.25 * nails                                    # the plate stands a little proud
    # normals from heights: slopes along the texture axes over the surface
    H = height.reshape(SIZE, SIZE)
    P = p.reshape(SIZE, SIZE, 3)
    dPdc = np.gradient(P, axis=1)
    dPdr = np.gradient(P, axis=0)
    lc = np.maximum(np.linalg.norm(dPdc, axis=2), 1e-6)
    lr = np.maximum(np.linalg.norm(dPdr, axis=2), 1e-6)
    sx = np.gradient(H, axis=1) * 1e-3 / lc
    sy = -np.gradient(H, axis=0) * 1e-3 / lr                  # +y: image up
    ok = (lc < 0.004) & (lr < 0.004)                          # not across a UV seam
    sx, sy = np.where(ok, sx, 0.0), np.where(ok, sy, 0.0)
    tn = _unit(np.dstack([-sx, -sy, np.ones_like(sx)]))
    darken = np.clip(-height, 0.0, 1.0).reshape(SIZE, SIZE)
    detail = 1.0 - 0.3 * darken[..., None] * [1.0, 1.05, 1.05]
    detail = detail * (1.0 - vein.reshape(SIZE, SIZE, 1) * [0.10, 0.07, 0.0])
    nail_img = nails.reshape(SIZE, SIZE, 1)
    detail = detail * (1.0 - nail_img) + nail_img * [1.0, 0.93, 0.92]
    base = np.dstack([detail, pale.reshape(SIZE, SIZE)])
    normal = np.dstack([0.5 + 0.5 * tn, nails.reshape(SIZE, SIZE)])
    return Maps(_png(base), _png(normal), texcoords)
