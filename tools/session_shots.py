#!/usr/bin/env python3
"""Retake the session pictures in docs/img that show the limbs, from the patient's eye,
offscreen, with the scripted reach of the intact arm (left transradial, as the mirror
pictures): session-pain-check.png (the therapist's pain check over a block) and
session-menu-hold.png (the menu button held: the ring and "keep holding to stop"). The
questionnaire pictures without limbs (session-nrs, -ssq, -breathing, -calm) are unchanged
by the limbs. Re-run it when the limbs, the skin shading or these screens change:

    python tools/session_shots.py [--out docs/img]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))

from mirror_shots import save, settings_for  # noqa: E402
from mirror_patient import run_frames  # noqa: E402
from vrgmi.app import Engine  # noqa: E402
from vrgmi.i18n import _  # noqa: E402
from vrgmi.patient_controls import RECENTRED_TEXT  # noqa: E402
from vrgmi.render.display import grab_rgba, open_display  # noqa: E402
from vrgmi.scenes.free_mirror import FreeMirror  # noqa: E402
from vrgmi.scenes.nrs import PainNRS  # noqa: E402
from vrgmi.tracking.scripted import ScriptedSource  # noqa: E402

SIZE = (640, 400)
#: seconds of the scripted reach before each picture (the hands over the table)
REACH_S = 2.5
#: how far round the menu hold's ring is drawn
HOLD_PROGRESS = 0.6


def take(display, scene, notice: str | None = None) -> Image.Image:
    """The scene after the reach, from the patient's eye, with an optional hold notice."""
    engine = Engine(settings_for("transradial"), ScriptedSource("reach", intact_side="right"),
                    display, scene=scene)
    run_frames(engine, REACH_S, render_every=1000)
    if notice is not None:
        engine.show_notice(notice, HOLD_PROGRESS)
        display.base.graphicsEngine.render_frame()
    img = Image.fromarray(grab_rgba(display.base)[..., :3])
    engine.close()
    return img


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    display = open_display("headless", size=SIZE)
    try:
        save(take(display, PainNRS(moment="check")), args.out / "session-pain-check.png")
        save(take(display, FreeMirror(), _(RECENTRED_TEXT)), args.out / "session-menu-hold.png")
    finally:
        display.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
