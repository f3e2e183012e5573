"""Loading pylsl (and the liblsl it ships) once; without it LSL is off, said in one line."""
from __future__ import annotations

import logging
from types import ModuleType

log = logging.getLogger("vrgmi.lsl")

_pylsl: ModuleType | None = None
_error: str | None = None


def load_pylsl() -> ModuleType | None:
    """The pylsl module, or None (and one logged error line, once) when pylsl or its liblsl
    cannot be loaded: the engine then runs without LSL."""
    global _pylsl, _error
    if _pylsl is not None or _error is not None:
        return _pylsl
    try:
        import pylsl
        pylsl.local_clock()                       # the library itself answers
    except (ImportError, OSError, RuntimeError, AttributeError) as exc:
        text = str(exc).strip().splitlines()
        _error = (f"lsl: pylsl / liblsl unavailable ({type(exc).__name__}: "
                  f"{text[0] if text else ''}); running without LSL")
        log.error("vrgmi: %s", _error)
        return None
    _pylsl = pylsl
    return _pylsl


def lsl_error() -> str | None:
    """Why LSL is off (None when pylsl loaded or was never asked for)."""
    return _error
