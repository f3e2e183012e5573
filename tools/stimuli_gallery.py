#!/usr/bin/env python3
"""Make docs/img/stimuli-gallery.png: a contact sheet of 24 laterality pictures made with
`vrgmi stimuli` (hands and feet, a seeded sample as the game draws it), one row of 8 per
skin tone (Fitzpatrick I, III, VI), each labelled with its answer, to look at the pictures
as a therapist would (a 256-colour PNG, about 200 KiB). Re-run it when the limb models or
the skin shading change:

    python tools/stimuli_gallery.py [--out docs/img/stimuli-gallery.png] [--size 256]
"""
from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
#: (skin tone, seed) of each row
ROWS = (("I", 101), ("III", 102), ("VI", 103))
PER_ROW = 8
#: colours in the saved gallery's palette
PALETTE_COLOURS = 256


def label(entry: dict) -> str:
    """The answer and the picture's parameters, in two short lines."""
    angle = f"{entry['rotation_deg']:g}\N{DEGREE SIGN}"
    turn = angle if entry["medial_lateral"] == "neutral" else f"{angle} {entry['medial_lateral']}"
    return (f"{entry['side']} {entry['limb']}, {entry['view']}\n"
            f"{entry['posture'].replace('_', ' ')}, {turn}")


def save_small_png(fig: Figure, out: Path) -> None:
    """Save ``fig`` as a 256-colour PNG (median cut, Floyd-Steinberg dithering): skin
    gradients stay smooth at a third of the full-colour file's size."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="white")
    image = Image.open(buffer).convert("RGB")
    image.quantize(PALETTE_COLOURS, method=Image.Quantize.MEDIANCUT,
                   dither=Image.Dither.FLOYDSTEINBERG).save(out, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/img/stimuli-gallery.png")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    fig = Figure(figsize=(PER_ROW * 1.6, len(ROWS) * 1.95), dpi=args.size / 1.5)
    FigureCanvasAgg(fig)
    with tempfile.TemporaryDirectory() as tmp:
        for row, (tone, seed) in enumerate(ROWS):
            out = Path(tmp) / tone
            subprocess.run([sys.executable, "-m", "vrgmi.cli", "stimuli", "--out", str(out),
                            "--limb", "both", "--count", str(PER_ROW), "--seed", str(seed),
                            "--size", str(args.size), "--skin-tone", tone], check=True)
            index = json.loads((out / "index.json").read_text())
            for col, entry in enumerate(index["stimuli"]):
                ax = fig.add_axes((col / PER_ROW + 0.003, 1 - (row + 1) / len(ROWS) + 0.07,
                                   1 / PER_ROW - 0.006, 1 / len(ROWS) - 0.1))
                ax.imshow(imread(out / entry["file"]))
                ax.set_axis_off()
                ax.set_title(label(entry), fontsize=6.5, y=-0.07, va="top")
            fig.text(0.5, 1 - row / len(ROWS) - 0.004, f"skin tone {tone}", fontsize=7,
                     ha="center", va="top", color="#444444")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_small_png(fig, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
