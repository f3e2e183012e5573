"""Short soft sine tones for the count-in, written once as WAV files (stdlib ``wave``).

The count ticks are 440 Hz, "go" 660 Hz and "end" 330 Hz, 150-250 ms with 20 ms fades so
they click neither on nor off. Files go to the user cache (``vrgmi.paths.data_dir() /
"cache" / "tones"``); when that cannot be written the scene runs silent. No Panda3D here.
"""
from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

from vrgmi.paths import data_dir

RATE_HZ = 22050
#: cue -> (frequency Hz, duration s, peak amplitude 0..1)
TONES = {"count": (440.0, 0.15, 0.35), "go": (660.0, 0.25, 0.40), "end": (330.0, 0.20, 0.35)}
FADE_S = 0.02


def tone_samples(freq_hz: float, duration_s: float, amplitude: float,
                 rate_hz: int = RATE_HZ) -> bytes:
    """16-bit mono PCM of a sine with linear fade-in and fade-out."""
    n = int(round(duration_s * rate_hz))
    fade = max(1, int(FADE_S * rate_hz))
    out = bytearray()
    for i in range(n):
        env = min(1.0, i / fade, (n - 1 - i) / fade)
        v = amplitude * env * math.sin(2.0 * math.pi * freq_hz * i / rate_hz)
        out += struct.pack("<h", int(round(v * 32767)))
    return bytes(out)


def tone_file(cue: str, folder: Path | None = None) -> Path | None:
    """The WAV of ``cue`` ("count" | "go" | "end"), written if missing; None when the folder
    cannot be written (the caller then stays silent)."""
    freq, dur, amp = TONES[cue]
    folder = Path(folder) if folder is not None else data_dir() / "cache" / "tones"
    path = folder / f"{cue}_{int(freq)}hz_{int(dur * 1000)}ms.wav"
    if path.is_file():
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE_HZ)
            w.writeframes(tone_samples(freq, dur, amp))
        tmp.replace(path)
    except OSError:
        return None
    return path
