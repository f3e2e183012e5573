#!/usr/bin/env python3
"""Make docs/img/limbs-closeups.png: the right hand from the back and the palm and the right
foot from the top and the sole (open hand, neutral foot, 0 deg), one row per skin tone
(Fitzpatrick I, III, VI), taken from `vrgmi stimuli --canonical` so the figure shows exactly
the laterality pictures' limbs, texture and shading (full colour, or 256 colours dithered
where that would pass 250 KB). Re-run it when the
limb models or the skin shading change:

    python tools/limb_closeups.py [--out docs/img/limbs-closeups.png] [--size 320]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
#: skin tones, one row each
TONES = ("I", "III", "VI")
#: the columns: (limb, view, posture)
COLUMNS = (("hand", "back", "open"), ("hand", "palm", "open"),
           ("foot", "top", "neutral"), ("foot", "sole", "neutral"))
#: label strip height (px)
STRIP = 22
#: the largest PNG kept in full colour (bytes)
MAX_BYTES = 250_000


def pictures(tone: str, size: int, tmp: Path) -> list[Image.Image]:
    """The four canonical right-limb pictures of ``tone`` in COLUMNS order."""
    out = tmp / tone
    subprocess.run([sys.executable, "-m", "vrgmi.cli", "stimuli", "--out", str(out),
                    "--limb", "both", "--canonical", "--size", str(size), "--skin-tone", tone],
                   check=True)
    index = json.loads((out / "index.json").read_text())["stimuli"]
    found = {(e["limb"], e["view"], e["posture"]): e["file"] for e in index
             if e["side"] == "right"}
    return [Image.open(out / found[c]).convert("RGB") for c in COLUMNS]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/img/limbs-closeups.png")
    parser.add_argument("--size", type=int, default=320)
    args = parser.parse_args()
    s = args.size
    sheet = Image.new("RGB", (len(COLUMNS) * s, STRIP + len(TONES) * s), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for col, (limb, view, _) in enumerate(COLUMNS):
        draw.text((col * s + s // 2, STRIP // 2), f"{limb}, {view}", fill=(20, 20, 20),
                  font=font, anchor="mm")
    with tempfile.TemporaryDirectory() as tmp:
        for row, tone in enumerate(TONES):
            for col, img in enumerate(pictures(tone, s, Path(tmp))):
                sheet.paste(img.resize((s, s)), (col * s, STRIP + row * s))
            draw.text((6, STRIP + row * s + 6), f"skin tone {tone}", fill=(255, 255, 255),
                      font=font)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save(sheet, args.out)
    return 0


def save(sheet: Image.Image, path: Path) -> None:
    """Full colour when that fits :data:`MAX_BYTES`, else 256 colours error-diffused (the
    palette first, then Floyd-Steinberg onto it: quantising alone leaves stripes in the
    stump end's fade)."""
    sheet.save(path, optimize=True)
    if path.stat().st_size > MAX_BYTES:
        palette = sheet.quantize(256, method=Image.Quantize.MEDIANCUT)
        sheet.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG).save(
            path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    sys.exit(main())
