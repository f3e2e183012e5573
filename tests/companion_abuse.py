"""Scripted abusive clients for the companion (loopback only, bounded in time): WebSocket
floods, malformed and adversarial HTTP requests, pairing guesses and cross-site tries.

Used in-process by tests/test_companion_fuzz.py and as a separate process (so the clients'
own Python work does not compete with the engine's frame thread) for the frame-time check:
``python tests/companion_abuse.py URL SECRET SECONDS`` prints a JSON summary.
"""
from __future__ import annotations

import asyncio
import collections
import json
import random
import sys
import time
from typing import Any

import aiohttp

SECURITY = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
            "Cache-Control")

ADVERSARIAL_BODIES = [
    b"[" * 15000 + b"]" * 15000, b'{"command":"set_param","args":{"name":"x","value":NaN}}',
    b'{"command":"set_param","args":{"name":"x","value":1e999}}', b"{nope", b"\xff\xfe",
    b'{"command":"start","args":{"patient":"P-nl\\n"}}', b'"just a string"', b"null",
    b'{"command":"pause","args":{"a":' + b"9" * 5000 + b"}}", b"x" * 20000,
    b'{"text":"' + b"\\ud800" * 10 + b'"}', b'{"command":"recenter"}', b'{"token":"AAAA"}']
PATHS = [("POST", "/api/command"), ("POST", "/api/pair"), ("POST", "/api/pairing"),
         ("POST", "/api/patients/P01/notes"), ("POST", "/api/patients/P01/step_back"),
         ("POST", "/api/tokens/0123abcd/revoke"), ("GET", "/api/status"),
         ("GET", "/api/patients/..%2f..%2fetc"), ("GET", "/api/patients/P-nl%0A/export/csv"),
         ("GET", "/pair?token=AAAA-BBBB-CCCC"), ("GET", "/static/..%2fserver.py"),
         ("GET", "/api/audit"), ("GET", "/nope"), ("PUT", "/api/command")]


class Tally:
    """What the abusive clients saw."""

    def __init__(self) -> None:
        self.statuses: collections.Counter[int] = collections.Counter()
        self.missing_headers = 0
        self.ws_messages = 0
        self.ws_closes: collections.Counter[int] = collections.Counter()

    def response(self, status: int, headers: Any) -> None:
        self.statuses[status] += 1
        if any(h not in headers for h in SECURITY) or headers.get("Server") != "vrgmi-companion":
            self.missing_headers += 1

    def summary(self) -> dict[str, Any]:
        return {"statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "server_errors": sum(v for k, v in self.statuses.items() if k >= 500),
                "missing_headers": self.missing_headers, "ws_messages": self.ws_messages,
                "ws_closes": {str(k): v for k, v in self.ws_closes.items()}}


async def flood_socket(base: str, secret: str, until: float, tally: Tally) -> None:
    """One socket sending commands as fast as it can; reconnects when the server closes it."""
    ws_url = base.replace("http", "ws", 1) + "/ws"
    headers = {"Authorization": f"Bearer {secret}", "Origin": base}
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < until:
            try:
                async with session.ws_connect(ws_url, headers=headers) as ws:
                    while time.monotonic() < until and not ws.closed:
                        await ws.send_str('{"command":"recenter","ref":1}')
                        tally.ws_messages += 1
                        if tally.ws_messages % 50 == 0:
                            await asyncio.sleep(0)
                    if not ws.closed:
                        await ws.close()
                    if ws.close_code:
                        tally.ws_closes[int(ws.close_code)] += 1
            except (aiohttp.ClientError, ConnectionError, asyncio.TimeoutError):
                await asyncio.sleep(0.05)


async def bad_requests(base: str, secret: str, until: float, tally: Tally, seed: int,
                       pace_s: float = 0.0) -> None:
    """Malformed, oversized, foreign and unauthenticated requests on every kind of route."""
    rng = random.Random(seed)
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < until:
            method, path = rng.choice(PATHS)
            headers = {"Content-Type": rng.choice(["application/json", "text/plain",
                                                   "application/x-www-form-urlencoded"])}
            if rng.random() < 0.8:
                headers["Authorization"] = f"Bearer {secret if rng.random() < 0.9 else 'x'}"
            if rng.random() < 0.2:
                headers["Origin"] = rng.choice(["http://evil.example", base])
            if rng.random() < 0.1:
                headers["Sec-Fetch-Site"] = "cross-site"
            body = rng.choice(ADVERSARIAL_BODIES) if method != "GET" else None
            try:
                async with session.request(method, base + path, data=body,
                                           headers=headers) as r:
                    await r.read()
                    tally.response(r.status, r.headers)
            except aiohttp.ClientError:
                tally.statuses[0] += 1
            if pace_s:
                await asyncio.sleep(pace_s)


async def abuse(base: str, secret: str, seconds: float, sockets: int = 3,
                seed: int = 14, pace_s: float = 0.0) -> dict[str, Any]:
    """Run the floods and bad requests together for ``seconds``; the summary."""
    tally = Tally()
    until = time.monotonic() + seconds
    await asyncio.gather(*(flood_socket(base, secret, until, tally) for _ in range(sockets)),
                         bad_requests(base, secret, until, tally, seed, pace_s))
    return tally.summary()


if __name__ == "__main__":
    url, token, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
    print(json.dumps(asyncio.run(abuse(url, token, duration, pace_s=0.005))))
