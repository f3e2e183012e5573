"""``vrgmi stimuli``: a folder of laterality pictures, their ``index.json`` and, optionally,
printable flash cards (docs/laterality.md, "Pictures and flash cards").

The set is written into a temporary folder beside ``out`` and renamed into place when it is
complete, so a failure (or Ctrl-C) leaves the previous set, or nothing, never a partial one.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from matplotlib.image import imread

from vrgmi.errors import VrgmiError
from vrgmi.laterality.stimuli import Stimulus
from vrgmi.laterality.stimulus_sets import index_entry
from vrgmi.settings import Settings

INDEX = "index.json"
CARDS = "cards.pdf"
#: ``index.json``'s format version
FORMAT = 1


class StimulusSetError(VrgmiError, OSError):
    """The output folder cannot take a stimulus set."""


def picture_name(number: int) -> str:
    """The file of picture ``number`` (from 1): neutral, so a name never gives the answer."""
    return f"stimulus-{number:03d}.png"


def check_out(out: Path) -> None:
    """Raise a one-line error when ``out`` cannot take a stimulus set."""
    if out.exists() and not out.is_dir():
        raise StimulusSetError(f"stimuli: --out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / INDEX).is_file():
        raise StimulusSetError(f"stimuli: --out {out} is a folder with other files in it; "
                               "give a new or empty folder (a stimulus set is replaced)")


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished ``tmp`` to ``out``; an older set there is replaced."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.replace(out, old / "set")
    try:
        os.replace(tmp, out)
    except OSError:
        os.replace(old / "set", out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def write_stimulus_set(base, settings: Settings, stimuli: Sequence[Stimulus], out: Path,
                       size: int, pdf: bool, about: dict,
                       progress: Callable[[str], None] | None = None) -> dict:
    """Render ``stimuli`` on ``base``'s graphics pipe as PNGs of ``size`` px into ``out``,
    with ``index.json`` (``about`` plus one entry per picture) and, with ``pdf``, the flash
    cards ``cards.pdf``; return the index."""
    from vrgmi.export.flash_cards import write_flash_cards
    from vrgmi.render.display import save_png
    from vrgmi.render.stimulus_render import StimulusRenderer

    say = progress or (lambda _m: None)
    out = Path(out)
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    limbs = tuple(dict.fromkeys(s.limb for s in stimuli))
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)         # a crashed run's, with this process id
    tmp.mkdir()
    try:
        say(f"stimuli: loading the limb models ({', '.join(limbs)})")
        renderer = StimulusRenderer(base, settings, limbs, size)
        entries = []
        try:
            for number, stimulus in enumerate(stimuli, start=1):
                name = picture_name(number)
                save_png(renderer.render(stimulus), tmp / name)
                entries.append(index_entry(name, stimulus))
                say(f"stimuli: picture {number} of {len(stimuli)}")
        finally:
            renderer.close()
        index = {"format": FORMAT, **about, "size_px": size,
                 "skin_tone": settings.patient.skin_tone, "height_m": settings.patient.height_m,
                 "limb_shape": dataclasses.asdict(settings.limb_shape),
                 "cards": CARDS if pdf else None, "stimuli": entries}
        (tmp / INDEX).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
        if pdf:
            pages = write_flash_cards(entries, lambda name: imread(tmp / name), tmp / CARDS,
                                      say)
            say(f"stimuli: {CARDS}, {pages} pages: print double-sided, flip on the long edge")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"stimuli: {len(entries)} pictures in {out}/")
    return index
