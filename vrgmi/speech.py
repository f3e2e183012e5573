"""Spoken instructions: espeak-ng (Debian package espeak-ng) reads a text aloud in the UI
language (docs/accessibility.md).

Synthesis runs on a worker thread into a cached WAV file (one per language and text, in the
user cache directory), so the frame never waits on it; the scene calls
:meth:`Speaker.poll` each frame and the sound starts through Panda3D's audio once the file
is ready. Without espeak-ng the first request prints one line and the session stays silent;
without an audio device it stays silent too. No Panda3D import: the display's ``base``
(ShowBase) is handed in.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import platformdirs

from vrgmi.errors import VrgmiError

ESPEAK = "espeak-ng"
#: espeak-ng voice per UI language
VOICES = {"en": "en-gb", "de": "de"}
#: speaking rate (words per minute): a little slower than espeak-ng's 175, for instructions
WORDS_PER_MINUTE = 150
SYNTH_TIMEOUT_S = 30.0

_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vrgmi-speech")
_notice_lock = threading.Lock()
_noticed = False


class SpeechError(VrgmiError):
    """Speech could not be synthesised."""


def available() -> bool:
    """True when espeak-ng is installed."""
    return shutil.which(ESPEAK) is not None


def cache_dir() -> Path:
    """Where synthesised WAV files are kept."""
    return Path(platformdirs.user_cache_dir("vrgmi")) / "speech"


def wav_path(text: str, language: str, folder: Path | None = None) -> Path:
    """The cached WAV file of ``text`` spoken in ``language``."""
    key = hashlib.sha1(f"{language}\0{WORDS_PER_MINUTE}\0{text}".encode()).hexdigest()[:20]
    return (folder or cache_dir()) / f"{language}-{key}.wav"


def synthesize(text: str, language: str, folder: Path | None = None) -> Path:
    """Speak ``text`` in ``language`` into a WAV file (cached) and return its path."""
    if language not in VOICES:
        raise SpeechError(f"speech: no voice for language {language!r}")
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise SpeechError("speech: espeak-ng is not installed (Debian package espeak-ng); "
                          "instructions are not spoken")
    path = wav_path(text, language, folder)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{threading.get_ident()}.part")
    try:
        subprocess.run([exe, "-v", VOICES[language], "-s", str(WORDS_PER_MINUTE), "-b", "1",
                        "-w", str(partial)], input=text.encode("utf-8"), check=True,
                       capture_output=True, timeout=SYNTH_TIMEOUT_S)
        partial.replace(path)
    except (OSError, subprocess.SubprocessError) as exc:
        partial.unlink(missing_ok=True)
        raise SpeechError(f"speech: espeak-ng failed ({exc})") from None
    return path


def _notice(message: str) -> None:
    """Print ``message`` once per process (the silent fallback's one line)."""
    global _noticed
    with _notice_lock:
        if not _noticed:
            _noticed = True
            print(message, file=sys.stderr)


class Speaker:
    """Speaks texts for one scene: :meth:`say` starts synthesis off the frame thread,
    :meth:`poll` (each frame) starts the sound when it is ready, :meth:`stop` ends it."""

    def __init__(self, base: Any, language: str) -> None:
        self.base = base
        self.language = language
        self._future: Future | None = None
        self.sound: Any = None
        self.path: Path | None = None

    @property
    def has_audio(self) -> bool:
        """True when the display has a working audio device."""
        managers = getattr(self.base, "sfxManagerList", None) if self.base is not None else None
        return bool(managers) and managers[0].is_valid()

    def say(self, text: str) -> None:
        """Speak ``text`` as soon as it is synthesised (replaces what was queued); without
        espeak-ng one line says so, without an audio device nothing happens."""
        self.stop()
        if not available():
            _notice("speech: espeak-ng is not installed (Debian package espeak-ng); "
                    "instructions are shown but not spoken")
        elif self.has_audio:
            self._future = _pool.submit(synthesize, text, self.language)

    def poll(self) -> None:
        """Start the sound if its file has become ready (never waits)."""
        future = self._future
        if future is None or not future.done():
            return
        self._future = None
        try:
            self.path = future.result()
        except SpeechError as exc:
            _notice(str(exc))
            return
        try:
            self.sound = self.base.loader.load_sfx(str(self.path))
        except Exception:   # noqa: BLE001 - a broken audio device: stay silent
            self.sound = None
        if self.sound is not None:
            self.sound.play()

    def stop(self) -> None:
        """Stop speaking (and forget a text still being synthesised)."""
        if self._future is not None:
            self._future.cancel()
            self._future = None
        if self.sound is not None:
            self.sound.stop()
            self.sound = None
