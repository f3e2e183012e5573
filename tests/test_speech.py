"""Spoken instructions: the real espeak-ng speaks German and English into cached WAV files
that sound (non-silent, a sensible length); without espeak-ng one line says so."""
from __future__ import annotations

import time
import wave

import numpy as np
import pytest

from vrgmi import speech
from vrgmi.i18n import _, set_language
from vrgmi.scenes.laterality import LateralityScene

WORDS_PER_SECOND = speech.WORDS_PER_MINUTE / 60.0


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    set_language("en")


def _read(path) -> tuple[np.ndarray, float]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(float)
    return samples, samples.size / rate


@pytest.mark.parametrize("language", ["en", "de"])
def test_instructions_are_spoken_into_a_wav_that_sounds(language, tmp_path):
    set_language(language)
    text = _(LateralityScene.instructions)
    path = speech.synthesize(text, language, tmp_path)
    assert path.parent == tmp_path and path.name.startswith(language)
    samples, seconds = _read(path)
    words = len(text.split())
    # about the speaking rate: not truncated, not stretched (espeak-ng pauses at stops)
    assert 0.5 * words / WORDS_PER_SECOND < seconds < 2.0 * words / WORDS_PER_SECOND
    rms = float(np.sqrt(np.mean(samples ** 2)))
    assert rms > 500.0                       # speech, not silence (full scale 32767)
    loud = np.abs(samples) > 1000
    assert 0.3 < loud.mean() < 0.95          # words with pauses between them
    mtime = path.stat().st_mtime_ns
    time.sleep(0.01)
    assert speech.synthesize(text, language, tmp_path) == path    # cached, not redone
    assert path.stat().st_mtime_ns == mtime


def test_english_and_german_differ_and_unknown_languages_are_refused(tmp_path):
    en = speech.synthesize("Press select when you are ready", "en", tmp_path)
    de = speech.synthesize("Drücken Sie Auswahl, wenn Sie bereit sind", "de", tmp_path)
    assert en != de and en.read_bytes() != de.read_bytes()
    with pytest.raises(speech.SpeechError):
        speech.synthesize("hola", "es", tmp_path)


def test_missing_espeak_is_one_line_and_silent(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(speech, "_noticed", False)
    speaker = speech.Speaker(None, "en")
    speaker.say("Hello")
    speaker.say("Hello again")
    speaker.poll()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "espeak-ng is not installed" in err
    assert speaker.sound is None
    with pytest.raises(speech.SpeechError):
        speech.synthesize("Hello", "en")


def test_without_an_audio_device_nothing_is_synthesised():
    speaker = speech.Speaker(None, "de")
    assert not speaker.has_audio
    speaker.say("Hallo")
    speaker.poll()
    assert speaker._future is None and speaker.sound is None
