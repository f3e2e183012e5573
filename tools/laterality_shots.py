#!/usr/bin/env python3
"""Retake the laterality game's pictures in docs/img from the patient's eye: the scene run
headless in the clinic room with the scripted patient of the tests (no instruction screen,
no practice), a chosen stimulus forced into the first trial, the frame that first shows it
grabbed. Look at them as a patient and as a therapist would after a change to the limbs,
the skin or the stage:

    python tools/laterality_shots.py [--out docs/img]

Writes laterality_hand.png and laterality_foot.png (skin tone III; 256-colour PNGs).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from vrgmi.app import Engine
from vrgmi.laterality.stimuli import Stimulus
from vrgmi.render.display import grab_rgba, open_display
from vrgmi.scenes.laterality import LateralityScene
from vrgmi.settings import load_settings
from vrgmi.tracking.scripted import ScriptedSource

ROOT = Path(__file__).resolve().parent.parent
SIZE = (960, 540)
RATE = 90.0
#: file -> (the patient's amputation level, the stimulus shown)
SHOTS = {
    "laterality_hand.png": ("transradial", Stimulus("hand", "left", "point", "palm",
                                                    (-30.0, 0.0, 0.0))),
    "laterality_foot.png": ("transtibial", Stimulus("foot", "right", "neutral", "top",
                                                    (30.0, 0.0, 0.0))),
}


def shot(display, level: str, stimulus: Stimulus) -> Image.Image:
    """The patient's view of the first frame that shows ``stimulus``."""
    settings = load_settings(None, ["ui.instructions=false", "practice.laterality_trials=0",
                                    f"patient.amputation_level={level}",
                                    "patient.skin_tone=III"])
    scene = LateralityScene(block_length=4, blocks=1, iti_ms=500, iti_jitter_ms=0,
                            adaptive=False, probe_trials=0)
    engine = Engine(settings, ScriptedSource("rest", intact_side="right"), display,
                    scene=scene)
    try:
        engine.inputs.push("select", 0.005, "script")
        frame = 0
        scene.task.stimulus = stimulus
        while scene.task.phase != "stimulus":
            if frame > 10 * RATE:
                raise RuntimeError(f"no stimulus (phase {scene.task.phase})")
            engine.frame(frame / RATE, 1.0 / RATE)
            frame += 1
            if scene.task.phase != "stimulus":
                scene.task.stimulus = stimulus
        if scene.task.stimulus != stimulus:
            raise RuntimeError(f"the game showed {scene.task.stimulus}, not {stimulus}")
        return Image.fromarray(grab_rgba(display.base)[..., :3])
    finally:
        engine.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    display = open_display("headless", size=SIZE, title="vrgmi laterality shots")
    try:
        for name, (level, stimulus) in SHOTS.items():
            path = args.out / name
            shot(display, level, stimulus).quantize(
                256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG
            ).save(path, optimize=True)
            print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    finally:
        display.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
