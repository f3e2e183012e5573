"""Pairing and session tokens for the companion.

The engine shows a one-time *pairing token* (console and desktop window, with a QR code of
``https://host:port/pair?token=...`` in LAN mode, ``http://127.0.0.1:port/...`` on this PC
only). Exchanging it gives the device a *session token*, sent back as an HttpOnly,
SameSite=Strict cookie, Secure under TLS (browsers) or as ``Authorization: Bearer``
(scripts). Only SHA-256 hashes of tokens are kept; every check compares hashes in constant
time. Session tokens are listed by a short public id and can be revoked; they live in memory
only, so restarting the engine unpairs every device. No Panda3D here.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import segno

from vrgmi.errors import VrgmiError

#: letters and digits a therapist can read off a screen and type without confusion
PAIRING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PAIRING_GROUPS = 3          # XXXX-XXXX-XXXX: 60 bits
PAIRING_TTL_S = 600.0       # a pairing token shown on screen lasts 10 minutes
PAIRING_MAX_FAILURES = 10   # wrong guesses from one address before that address is shut out
SESSION_TTL_S = 12 * 3600.0  # a clinic day
COOKIE_NAME = "vrgmi_session"
MAX_TOKEN_CHARS = 128


class AuthError(VrgmiError):
    """A pairing or session token was refused (one line, safe to show the client)."""


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "replace")).digest()


def normalise_pairing(text: str) -> str:
    """A typed pairing token in canonical form (upper case, dashes where they belong)."""
    raw = "".join(c for c in text.upper() if c.isalnum())
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


@dataclass
class TokenInfo:
    """One paired device. ``id`` is public (shown, used to revoke); the secret is not kept."""

    id: str
    label: str
    created: float
    expires: float
    last_used: float
    revoked: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without anything secret."""
        return {"id": self.id, "label": self.label, "created": self.created,
                "expires": self.expires, "last_used": self.last_used, "revoked": self.revoked}


class TokenStore:
    """Pairing and session tokens (thread-safe)."""

    def __init__(self, pairing_ttl_s: float = PAIRING_TTL_S, session_ttl_s: float = SESSION_TTL_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.pairing_ttl_s = pairing_ttl_s
        self.session_ttl_s = session_ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._pairing: tuple[bytes, float] | None = None     # (hash, expires)
        self._failures: dict[str, int] = {}     # wrong guesses per address, this token
        self._sessions: dict[str, tuple[bytes, TokenInfo]] = {}

    def new_pairing_token(self) -> str:
        """A fresh one-time pairing token (it replaces any earlier one)."""
        raw = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(4 * PAIRING_GROUPS))
        token = normalise_pairing(raw)
        with self._lock:
            self._pairing = (_digest(token), self._clock() + self.pairing_ttl_s)
            self._failures.clear()
        return token

    @property
    def pairing_open(self) -> bool:
        """True while a pairing token is waiting to be used."""
        with self._lock:
            return self._pairing is not None and self._pairing[1] > self._clock()

    def pair(self, token: str, label: str = "device",
             address: str = "?") -> tuple[str, TokenInfo]:
        """Exchange the pairing token for (session secret, its info); it works only once.

        Wrong guesses are counted per ``address``: after PAIRING_MAX_FAILURES that address
        is refused until a new token is shown, while every other address can still pair
        (a 60-bit token cannot be guessed in the tries the rate limits allow)."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
            raise AuthError("pairing: no pairing token given")
        offered = _digest(normalise_pairing(token))
        now = self._clock()
        with self._lock:
            if self._pairing is None or self._pairing[1] <= now:
                self._pairing = None
                raise AuthError("pairing: no pairing token is open; show a new one on the "
                                "engine's screen")
            if self._failures.get(address, 0) >= PAIRING_MAX_FAILURES:
                raise AuthError("pairing: too many wrong tokens from this device; show a new "
                                "pairing token on the engine's screen")
            if not hmac.compare_digest(offered, self._pairing[0]):
                self._failures[address] = self._failures.get(address, 0) + 1
                raise AuthError("pairing: that pairing token is not the one on the screen")
            self._pairing = None
            secret = secrets.token_urlsafe(32)
            info = TokenInfo(id=secrets.token_hex(4), label=label[:64] or "device",
                             created=now, expires=now + self.session_ttl_s, last_used=now)
            self._sessions[info.id] = (_digest(secret), info)
        return secret, info

    def verify(self, secret: str | None) -> TokenInfo | None:
        """The live token ``secret`` belongs to, or None (unknown, revoked or expired)."""
        if not secret or len(secret) > MAX_TOKEN_CHARS:
            return None
        offered = _digest(secret)
        now = self._clock()
        found = None
        with self._lock:
            for digest, info in self._sessions.values():   # every entry: constant time
                if hmac.compare_digest(offered, digest):
                    found = info
            if found is None or found.revoked or found.expires <= now:
                return None
            found.last_used = now
            return found

    def is_live(self, token_id: str) -> bool:
        """True while the session token ``token_id`` is neither revoked nor expired (an open
        WebSocket asks before every message it acts on)."""
        now = self._clock()
        with self._lock:
            entry = self._sessions.get(token_id)
            return entry is not None and not entry[1].revoked and entry[1].expires > now

    def revoke(self, token_id: str) -> bool:
        """Revoke one session token by its public id; False if there is none."""
        with self._lock:
            entry = self._sessions.get(token_id)
            if entry is None:
                return False
            entry[1].revoked = True
            return True

    def tokens(self) -> list[dict[str, Any]]:
        """Every session token's public info, oldest first."""
        with self._lock:
            return [info.as_dict() for _d, info in
                    sorted(self._sessions.values(), key=lambda e: e[1].created)]


def pairing_url(base_url: str, token: str) -> str:
    """The URL a QR code carries: ``<base>/pair?token=<token>``."""
    return f"{base_url.rstrip('/')}/pair?token={token}"


def qr_text(url: str) -> str:
    """The QR code of ``url`` drawn with block characters for a terminal."""
    import io

    out = io.StringIO()
    segno.make(url, error="m").terminal(out, compact=True, border=2)
    return out.getvalue()


def qr_modules(url: str) -> list[list[bool]]:
    """The QR code of ``url`` as rows of dark (True) / light modules, with a quiet zone."""
    qr = segno.make(url, error="m")
    return [[bool(v) for v in row] for row in qr.matrix_iter(scale=1, border=4)]


def qr_svg(url: str, scale: int = 6) -> str:
    """The QR code of ``url`` as an inline SVG document (for the companion's pairing page)."""
    import io

    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=scale, border=4, xmldecl=False)
    return out.getvalue().decode("utf-8")


def pairing_banner(url: str, token: str, fingerprint: str = "") -> str:
    """What the engine prints on its console when pairing is open; with the certificate's
    SHA-256 fingerprint (HTTPS in LAN mode) for the therapist to check on the tablet."""
    link = pairing_url(url, token)
    check = (f"\ncompanion: certificate SHA-256 fingerprint (check it on the tablet):\n"
             f"companion:   {fingerprint}" if fingerprint else "")
    return (f"companion: open {url} on the therapist's tablet or second monitor\n"
            f"companion: pairing token {token} (one use, {PAIRING_TTL_S / 60:.0f} minutes), "
            f"or scan (then press Pair):\n{qr_text(link)}{link}{check}")
