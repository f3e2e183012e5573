"""The pairing card on the engine's desktop window: the QR code of the pairing link, the URL
and the one-time token, in a corner of the 2D overlay (never in the headset's view)."""
from __future__ import annotations

from typing import Any

import numpy as np
from panda3d.core import CardMaker, NodePath, SamplerState, TextNode, Texture

from vrgmi.companion.auth import pairing_url, qr_modules
from vrgmi.render.ui import CARD_RGBA, TEXT_RGBA

CARD_SIZE = 0.62          # the QR code's side, in aspect2d units (the window is 2 high)


def qr_texture(url: str) -> Texture:
    """A nearest-filtered greyscale texture of the QR code of ``url`` (dark modules black)."""
    modules = np.array(qr_modules(url), dtype=bool)
    pixels = np.where(modules, 0, 255).astype(np.uint8)[::-1]     # Panda's rows run bottom-up
    tex = Texture("vrgmi-pairing-qr")
    tex.setup_2d_texture(pixels.shape[1], pixels.shape[0], Texture.T_unsigned_byte,
                         Texture.F_luminance)
    tex.set_ram_image(np.ascontiguousarray(pixels).tobytes())
    tex.set_magfilter(SamplerState.FT_nearest)
    tex.set_minfilter(SamplerState.FT_nearest)
    return tex


def show_pairing_card(base: Any, url: str, token: str) -> NodePath:
    """Put the pairing card in the window's top-right corner; ``remove_node()`` hides it."""
    win = base.win
    aspect = win.get_x_size() / win.get_y_size()
    corner = base.render2d.attach_new_node("vrgmi-pairing-card-corner")
    corner.set_scale(1.0 / aspect, 1.0, 1.0)           # square units whatever the window
    root = corner.attach_new_node("vrgmi-pairing-card")
    root.set_pos(aspect - CARD_SIZE / 2 - 0.06, 0, 1.0 - CARD_SIZE / 2 - 0.06)
    srgb = win.get_fb_properties().get_srgb_color()
    colour = (lambda c: tuple(v ** 2.2 for v in c[:3]) + (c[3],)) if srgb else (lambda c: c)
    back = CardMaker("pairing-back")
    back.set_frame(-CARD_SIZE / 2 - 0.03, CARD_SIZE / 2 + 0.03, -CARD_SIZE / 2 - 0.30,
                   CARD_SIZE / 2 + 0.03)
    back.set_color(*colour(CARD_RGBA))
    backing = root.attach_new_node(back.generate())
    backing.set_transparency(True)
    backing.set_bin("fixed", 0)
    code = CardMaker("pairing-qr")
    code.set_frame(-CARD_SIZE / 2, CARD_SIZE / 2, -CARD_SIZE / 2, CARD_SIZE / 2)
    qr = root.attach_new_node(code.generate())
    qr.set_texture(qr_texture(pairing_url(url, token)))
    qr.set_bin("fixed", 1)
    text = TextNode("pairing-text")
    text.set_text(f"Companion: scan, or open\n{url}\ntoken {token}")
    text.set_align(TextNode.A_center)
    text.set_text_color(*colour(TEXT_RGBA))
    label = root.attach_new_node(text)
    label.set_scale(0.045)
    label.set_pos(0, 0, -CARD_SIZE / 2 - 0.09)
    label.set_bin("fixed", 2)
    corner.set_shader_off(1)
    corner.set_light_off(1)
    return corner
