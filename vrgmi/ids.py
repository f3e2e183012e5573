"""The one rule for a pseudonymous patient id, used by settings, programs, records and the companion.

An id is 1-64 ASCII letters, digits, ``-`` or ``_`` (a pseudonym, never a name). The whole
string must match: ``re.fullmatch`` rejects a trailing newline that ``$`` would let through.
"""
from __future__ import annotations

import re
from typing import Any

#: 1-64 ASCII letters, digits, - and _; checked with fullmatch only
PATIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: the rule in words, for one-line errors
PATIENT_ID_RULE = "must be 1-64 letters A-Z, digits, - or _ (a pseudonym, never a name)"

_SHOWN = 40


def is_patient_id(value: Any) -> bool:
    """True when ``value`` is a str that is wholly a valid pseudonymous id."""
    return isinstance(value, str) and PATIENT_ID.fullmatch(value) is not None


def shown_id(value: Any) -> str:
    """``value`` as a short repr safe to put in a one-line message."""
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."
