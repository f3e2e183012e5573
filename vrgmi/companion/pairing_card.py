"""The pairing card on the engine's desktop window: the QR code of the pairing link, the URL,
the one-time token and (HTTPS in LAN mode) the certificate's SHA-256 fingerprint, in a corner
of the 2D overlay (never in the headset's view)."""
from __future__ import annotations

from typing import Any

import numpy as np
from panda3d.core import CardMaker, NodePath, SamplerState, TextNode, Texture

from vrgmi.companion.auth import pairing_url, qr_modules
from vrgmi.render.ui import CARD_RGBA, TEXT_RGBA

CARD_SIZE = 0.62          # the QR code's side, in aspect2d units (the window is 2 high)
TEXT_SCALE = 0.045        # the text's height, same units
TEXT_TOP = -CARD_SIZE / 2 - 0.09     # the first line's baseline


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


def card_text(url: str, token: str, fingerprint: str = "") -> str:
    """The card's lines under the QR code; a fingerprint ("AB:CD:...") in rows of 8 bytes."""
    text = f"Companion: scan, tap Pair\n{url}\ntoken {token}"
    if fingerprint:
        octets = fingerprint.split(":")
        rows = (":".join(octets[i:i + 8]) for i in range(0, len(octets), 8))
        text += "\ncertificate SHA-256:\n" + "\n".join(rows)
    return text


def show_pairing_card(base: Any, url: str, token: str, fingerprint: str = "") -> NodePath:
    """Put the pairing card in the window's top-right corner; ``remove_node()`` hides it."""
    win = base.win
    aspect = win.get_x_size() / win.get_y_size()
    corner = base.render2d.attach_new_node("vrgmi-pairing-card-corner")
    corner.set_scale(1.0 / aspect, 1.0, 1.0)           # square units whatever the window
    root = corner.attach_new_node("vrgmi-pairing-card")
    root.set_pos(aspect - CARD_SIZE / 2 - 0.06, 0, 1.0 - CARD_SIZE / 2 - 0.06)
    srgb = win.get_fb_properties().get_srgb_color()
    colour = (lambda c: tuple(v ** 2.2 for v in c[:3]) + (c[3],)) if srgb else (lambda c: c)
    text = TextNode("pairing-text")
    text.set_text(card_text(url, token, fingerprint))
    back = CardMaker("pairing-back")        # down to the last line, whatever their number
    back.set_frame(-CARD_SIZE / 2 - 0.03, CARD_SIZE / 2 + 0.03,
                   TEXT_TOP + text.get_bottom() * TEXT_SCALE - 0.04, CARD_SIZE / 2 + 0.03)
    back.set_color(*colour(CARD_RGBA))
    backing = root.attach_new_node(back.generate())
    backing.set_transparency(True)
    backing.set_bin("fixed", 0)
    code = CardMaker("pairing-qr")
    code.set_frame(-CARD_SIZE / 2, CARD_SIZE / 2, -CARD_SIZE / 2, CARD_SIZE / 2)
    qr = root.attach_new_node(code.generate())
    qr.set_texture(qr_texture(pairing_url(url, token)))
    qr.set_bin("fixed", 1)
    text.set_align(TextNode.A_center)
    text.set_text_color(*colour(TEXT_RGBA))
    label = root.attach_new_node(text)
    label.set_scale(TEXT_SCALE)
    label.set_pos(0, 0, TEXT_TOP)
    label.set_bin("fixed", 2)
    corner.set_shader_off(1)
    corner.set_light_off(1)
    return corner
