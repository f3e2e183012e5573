"""Pairing and session tokens: one-time, expiring, hashed, revocable, brute-force limited."""
import http.client
import json
import re

import pytest

from vrgmi.companion import Companion
from vrgmi.companion.auth import (COOKIE_NAME, PAIRING_MAX_FAILURES, AuthError, TokenStore,
                                  normalise_pairing, pairing_banner, pairing_url, qr_modules,
                                  qr_svg)
from vrgmi.companion.commands import RateLimiter
from vrgmi.control import CommandQueue, StatusBoard


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pairing_token_works_once_and_gives_a_session_token():
    store = TokenStore()
    token = store.new_pairing_token()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", token)
    assert not set(token) & set("01IO")            # nothing a therapist could misread
    secret, info = store.pair(token.lower().replace("-", " "), "tablet")   # typed sloppily
    assert store.verify(secret) is info and info.label == "tablet"
    with pytest.raises(AuthError, match="no pairing token is open"):
        store.pair(token)
    assert store.verify(secret + "x") is None and store.verify("") is None
    assert store.verify(None) is None


def test_wrong_guesses_shut_out_only_the_address_that_made_them():
    store = TokenStore()
    token = store.new_pairing_token()
    for _ in range(PAIRING_MAX_FAILURES):
        with pytest.raises(AuthError, match="not the one on the screen"):
            store.pair("AAAA-AAAA-AAAA", address="10.0.0.66")
    with pytest.raises(AuthError, match="too many wrong tokens"):
        store.pair(token, address="10.0.0.66")          # that address is refused, even right
    secret, info = store.pair(token, "tablet", address="10.0.0.5")   # the tablet still pairs
    assert store.verify(secret) is info
    store.new_pairing_token()                             # a new token forgives everyone
    with pytest.raises(AuthError, match="not the one on the screen"):
        store.pair("AAAA-AAAA-AAAA", address="10.0.0.66")


def test_tokens_expire_and_are_revoked():
    clock = Clock()
    store = TokenStore(pairing_ttl_s=60.0, session_ttl_s=3600.0, clock=clock)
    token = store.new_pairing_token()
    clock.now += 61.0
    assert not store.pairing_open
    with pytest.raises(AuthError, match="no pairing token is open"):
        store.pair(token)
    secret, info = store.pair(store.new_pairing_token())
    clock.now += 3599.0
    assert store.verify(secret) is info and info.last_used == clock.now
    clock.now += 2.0
    assert store.verify(secret) is None                 # expired
    secret2, info2 = store.pair(store.new_pairing_token())
    assert store.revoke(info2.id) and not store.revoke("deadbeef")
    assert store.verify(secret2) is None
    listed = store.tokens()
    assert [t["id"] for t in listed] == [info.id, info2.id]
    assert listed[1]["revoked"] and not listed[0]["revoked"]


def test_only_hashes_of_secrets_are_kept():
    store = TokenStore()
    token = store.new_pairing_token()
    assert token.encode() not in repr(store._pairing).encode()
    secret, _info = store.pair(token)
    assert secret not in repr(store._sessions) and secret not in str(store.tokens())
    assert len(secret) >= 40


def test_normalise_pairing():
    assert normalise_pairing(" abcd efgh-jkmn ") == "ABCD-EFGH-JKMN"


def test_rate_limiter_refills_at_its_rate():
    clock = Clock()
    limit = RateLimiter(rate=2.0, burst=3.0, clock=clock)
    assert [limit.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("b")                                   # buckets are per key
    clock.now += 0.5                                          # one request's worth
    assert limit.allow("a") and not limit.allow("a")


def test_qr_code_of_the_pairing_url():
    url = pairing_url("http://127.0.0.1:8470/", "ABCD-EFGH-JKMN")
    assert url == "http://127.0.0.1:8470/pair?token=ABCD-EFGH-JKMN"
    rows = qr_modules(url)
    n = len(rows)
    assert all(len(r) == n for r in rows) and (n - 8 - 21) % 4 == 0   # version 1+ plus border
    finder = [r[4:11] for r in rows[4:11]]            # top-left finder pattern, after the border
    assert finder[0] == [True] * 7 and finder[1] == [True] + [False] * 5 + [True]
    assert finder[3][2:5] == [True] * 3
    assert "<svg" in qr_svg(url) and "pair?token=ABCD-EFGH-JKMN" in pairing_banner(
        "http://127.0.0.1:8470", "ABCD-EFGH-JKMN")


def _get(port: int, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    return conn.getresponse()


def test_pair_link_sets_a_strict_httponly_cookie_and_guessing_is_rate_limited():
    server = Companion(StatusBoard(), CommandQueue(), port=0)
    server.start()
    try:
        port = server.port
        assert _get(port, "/api/status").status == 401
        page = _get(port, "/")
        assert page.status == 401 and b"Pair this device" in page.read()
        token, link = server.pairing()
        assert link == f"{server.url}/pair?token={token}"
        form = _get(port, f"/pair?token={token}")          # the QR link: a form, filled in
        assert form.status == 200 and form.getheader("Set-Cookie") is None
        assert f'value="{token}"'.encode() in form.read()
        origin = {"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"}
        assert _post(port, "/api/pair", {"token": token},
                     {**origin, "Content-Type": "text/plain"}).status == 415
        assert _post(port, "/api/pair", {"token": token},
                     {**origin, "Sec-Fetch-Site": "cross-site"}).status == 403
        assert _post(port, "/api/pair", {"token": token},
                     {"Origin": "http://evil.example"}).status == 403
        response = _post(port, "/api/pair", {"token": token}, origin)   # the page's script
        assert response.status == 200
        cookie = response.getheader("Set-Cookie")
        assert cookie.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie and "Path=/" in cookie
        secret = cookie.split(";")[0].split("=", 1)[1]
        assert _get(port, "/api/status", {"Cookie": f"{COOKIE_NAME}={secret}"}).status == 200
        assert _get(port, "/api/status", {"Authorization": f"Bearer {secret}"}).status == 200
        again = _post(port, "/api/pair", {"token": token}, origin)     # one use only
        assert again.status == 403 and b"no pairing token is open" in again.read()
        server.pairing()
        codes = [_post(port, "/api/pair", {"token": "AAAA-BBBB-CCCC"}).status
                 for _ in range(8)]
        assert codes[:3] == [403] * 3 and codes[-1] == 429   # bursts of 5 tries, then 1 per 2 s
    finally:
        server.stop()


def _post(port: int, path: str, body: dict,
          headers: dict | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", path, json.dumps(body),
                 {"Content-Type": "application/json", **(headers or {})})
    return conn.getresponse()


def test_hosts_accepted_locally_and_in_lan_mode():
    from vrgmi.companion import CompanionError, CompanionOptions

    local = Companion(StatusBoard(), CommandQueue(), port=8470)
    lan = Companion(StatusBoard(), CommandQueue(), port=8470, lan=True)
    assert lan.host == "0.0.0.0" and local.host == "127.0.0.1"
    for host, at_home, on_lan in (("127.0.0.1:8470", True, True), ("localhost:8470", True, True),
                                  ("[::1]:8470", True, True), ("192.168.1.20:8470", False, True),
                                  ("evil.example:8470", False, False),
                                  ("127.0.0.1:8471", False, False), ("127.0.0.1", False, False)):
        assert local._host_allowed(host) is at_home, host
        assert lan._host_allowed(host) is on_lan, host
    with pytest.raises(CompanionError, match="set companion.lan = true"):
        Companion(StatusBoard(), CommandQueue(), host="192.168.1.20")
    assert CompanionOptions.from_settings(object()) == CompanionOptions(True, 8470, False)

    class Section:
        port, lan = 9000, True

    class WithSection:
        companion = Section()

    assert CompanionOptions.from_settings(WithSection()) == CompanionOptions(True, 9000, True)
    local.audit.close()
    lan.audit.close()


def test_port_in_use_is_one_line():
    from vrgmi.companion import CompanionError

    first = Companion(StatusBoard(), CommandQueue(), port=0)
    first.start()
    try:
        with pytest.raises(CompanionError, match=f"cannot serve on 127.0.0.1:{first.port}"):
            Companion(StatusBoard(), CommandQueue(), port=first.port).start()
    finally:
        first.stop()


def test_pairing_card_on_the_desktop_window(display):
    import numpy as np

    from vrgmi.companion.pairing_card import qr_texture, show_pairing_card
    from vrgmi.render.display import grab_rgba

    url = "http://127.0.0.1:8470"
    tex = qr_texture(pairing_url(url, "ABCD-EFGH-JKMN"))
    modules = qr_modules(pairing_url(url, "ABCD-EFGH-JKMN"))
    assert tex.get_x_size() == len(modules)
    pixels = np.frombuffer(tex.get_ram_image(), np.uint8).reshape(len(modules), -1)[::-1]
    assert (pixels == 0).tolist() == modules                   # dark modules are black
    card = show_pairing_card(display.base, url, "ABCD-EFGH-JKMN")
    try:
        shot = grab_rgba(display.base)[..., :3].astype(int)
        corner = shot[: shot.shape[0] // 2, shot.shape[1] // 2:]
        assert (corner.sum(axis=2) < 60).mean() > 0.05          # black modules
        assert (corner.sum(axis=2) > 700).mean() > 0.05         # white modules
    finally:
        card.remove_node()
