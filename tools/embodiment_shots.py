#!/usr/bin/env python3
"""Retake docs/img/embodiment-measures.png, offscreen from the patient's eye, with the
engine's limbs and room and the tests' scripted seated patient (tests/mirror_patient.py):
the embodiment questionnaire with a statement answered, the proprioceptive drift task's
plain room once the limbs have faded (its prompt up), and a therapist's brush stroking the
intact forearm drawn mirrored on the phantom's (tests/test_touch.py's brush path). Re-run it
after a change to the limbs, the room or these scenes:

    python tools/embodiment_shots.py [--out docs/img/embodiment-measures.png]
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))

from mirror_patient import RATE, X_AXIS, SeatedPatient, run_frames  # noqa: E402
from mirror_shots import SIZE, save  # noqa: E402
from vrgmi.app import Engine  # noqa: E402
from vrgmi.render.display import grab_rgba, open_display  # noqa: E402
from vrgmi.scenes.drift import DriftTask  # noqa: E402
from vrgmi.scenes.embodiment import EmbodimentQuestionnaire  # noqa: E402
from vrgmi.settings import load_settings  # noqa: E402
from vrgmi.spatial import quat_from_axis_angle  # noqa: E402

#: each panel's size in the figure (px), and the white gap between panels
PANEL = (600, 338)
GAP = 8
#: the patient looks down this far (deg) at the stroked forearms
BRUSH_PITCH_DEG = -45.0
#: the questionnaire's answer shown: presses of "right" from nothing selected (5: +1)
ANSWER_PRESSES = 5


def _settings():
    return load_settings(overrides={"ui.instructions": False, "ui.speak_instructions": False,
                                    "tracking.one_euro": False,
                                    "display.refresh_hz": RATE})


def questionnaire(display) -> np.ndarray:
    """The first statement, answered +1 (not yet confirmed)."""
    engine = Engine(_settings(), SeatedPatient("arm"), display, scene=EmbodimentQuestionnaire())
    n = run_frames(engine, 1.5, render_every=1000)
    for _ in range(ANSWER_PRESSES):
        engine.inputs.push("right", n / RATE, "script")
    run_frames(engine, 0.5, start=n, render_every=1000)
    img = grab_rgba(display.base)[..., :3]
    engine.close()
    return img


def drift(display) -> np.ndarray:
    """The drift task once both limbs have faded out: the plain room and the prompt."""
    engine = Engine(_settings(), SeatedPatient("arm"), display, scene=DriftTask())
    n = 0
    while engine.scene.state != "point" and n < 10 * RATE:
        n = run_frames(engine, 0.5, start=n, render_every=1000)
    run_frames(engine, 0.5, start=n, render_every=1000)
    img = grab_rgba(display.base)[..., :3]
    engine.close()
    return img


def brush(display) -> np.ndarray:
    """Halfway along a brush stroke on the intact forearm, drawn on the phantom's."""
    from test_touch import STROKE_S, _brush, _engine, _path
    engine, source, start = _engine(display, delay_s=0.0)
    source.head[3:] = quat_from_axis_angle(X_AXIS, math.radians(BRUSH_PITCH_DEG))
    pos = engine.core.intact.positions
    elbow, wrist = pos[1].copy(), pos[2].copy()
    source.brush = _brush(_path(elbow + 0.2 * (wrist - elbow), elbow + 0.9 * (wrist - elbow),
                                start / RATE + 0.1, n=1))
    run_frames(engine, 0.1 + 0.5 * STROKE_S, start=start, render_every=1000)
    img = grab_rgba(display.base)[..., :3]
    engine.close()
    return img


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/img/embodiment-measures.png")
    args = parser.parse_args()
    display = open_display("headless", size=SIZE)
    try:
        panels = [Image.fromarray(take(display)).resize(PANEL, Image.LANCZOS)
                  for take in (questionnaire, drift, brush)]
    finally:
        display.close()
    sheet = Image.new("RGB", (3 * PANEL[0] + 2 * GAP, PANEL[1]), (255, 255, 255))
    for i, panel in enumerate(panels):
        sheet.paste(panel, (i * (PANEL[0] + GAP), 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save(sheet, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
