"""TLS in LAN mode (issue 14, finding 6): the companion serves HTTPS and WSS only, with a
certificate made on this machine (kept, reused, made again when expired) or the clinic's own;
its fingerprint is shown; cookies are Secure; plain HTTP is refused on the LAN port. LAN mode
binds every interface; the tests connect over loopback (127.0.0.1 is in the certificate).
Screenshots go to ``$VRGMI_COMPANION_SHOTS`` (default: the test's tmp folder)."""
import asyncio
import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import aiohttp
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from vrgmi.companion import Companion
from vrgmi.companion.server import CompanionOptions, lan_address
from vrgmi.companion.tls import CERT_NAME, KEY_NAME, VALID_DAYS, CertificateError
from vrgmi.control import CommandQueue, EngineStatus, StatusBoard
from vrgmi.scenes.laterality import LateralityScene
from vrgmi.settings import load_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("VRGMI_COMPANION_SHOTS", tmp_path / "shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def lan(tmp_path: Path, board: StatusBoard | None = None, **kw) -> Companion:
    """A LAN-mode companion on a free port, its certificate folder under ``tmp_path``."""
    return Companion(board or StatusBoard(), CommandQueue(), port=0, lan=True,
                     tls_dir=tmp_path / "tls", **kw)


def pinned(cafile: Path) -> ssl.SSLContext:
    """A client context that trusts exactly ``cafile`` (and checks the host name)."""
    return ssl.create_default_context(cafile=str(cafile))


def loopback(companion: Companion) -> str:
    return f"https://127.0.0.1:{companion.port}"


def read_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02X}" for b in digest)


def test_a_certificate_is_made_on_first_run_shown_and_reused(tmp_path):
    first = lan(tmp_path)
    first.start()
    try:
        banner = first.pairing_banner()
        assert first.url.startswith("https://") and first.url.endswith(f":{first.port}")
        assert "/pair?token=" in banner and f"{first.url}/pair?token=" in banner
    finally:
        first.stop()
    folder = tmp_path / "tls"
    cert = read_cert(folder / CERT_NAME)
    printed = colon_hex(cert.fingerprint(hashes.SHA256()))
    assert first.fingerprint == printed and printed in banner       # the one on the console
    assert len(printed) == 95
    key = serialization.load_pem_private_key((folder / KEY_NAME).read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.issuer == cert.subject                                # self-signed
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    host = socket.gethostname().lower()
    assert {host, f"{host}.local", "localhost"} <= set(san.get_values_for_type(x509.DNSName))
    assert {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address(lan_address())} <= set(
        san.get_values_for_type(x509.IPAddress))
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca is False
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=VALID_DAYS) <= life <= dt.timedelta(days=VALID_DAYS, minutes=10)
    assert (folder / KEY_NAME).stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o077 == 0
    made = (folder / CERT_NAME).stat().st_mtime_ns
    second = lan(tmp_path)
    second.start()
    second.stop()
    assert second.fingerprint == printed                              # reused, not made again
    assert (folder / CERT_NAME).stat().st_mtime_ns == made


def _write_pair(folder: Path, cert: x509.Certificate, key) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CERT_NAME).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / KEY_NAME).write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (folder / KEY_NAME).chmod(0o644)


def _self_signed(names: list[str], addresses: list[str], start: dt.datetime, days: float):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    alt = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a))
                                              for a in addresses]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


@pytest.mark.parametrize("why", ["expired", "new address", "damaged"])
def test_the_kept_certificate_is_made_again_when_expired_or_the_addresses_change(tmp_path,
                                                                                 why):
    host = socket.gethostname().lower()
    now = dt.datetime.now(dt.timezone.utc)
    names = [host, f"{host.split('.')[0]}.local", "localhost"]
    addresses = ["127.0.0.1", "::1", lan_address()]
    if why == "expired":
        old, key = _self_signed(names, addresses, now - dt.timedelta(days=400), 399)
    else:   # valid, but the machine now has an address the certificate does not name
        old, key = _self_signed(names, ["::1"], now - dt.timedelta(days=1), 300)
    _write_pair(tmp_path / "tls", old, key)
    if why == "damaged":
        (tmp_path / "tls" / CERT_NAME).write_text("not a certificate")
    companion = lan(tmp_path)
    companion.start()
    companion.stop()
    new = read_cert(tmp_path / "tls" / CERT_NAME)
    assert new.serial_number != old.serial_number
    assert companion.fingerprint == colon_hex(new.fingerprint(hashes.SHA256()))
    assert new.not_valid_after_utc > now + dt.timedelta(days=VALID_DAYS - 1)
    assert (tmp_path / "tls" / KEY_NAME).stat().st_mode & 0o777 == 0o600


def _clinic_ca(tmp_path: Path) -> tuple[Path, Path, Path, x509.Certificate]:
    """A clinic CA (RSA) and a leaf it signed for 127.0.0.1: (ca, cert, key files, leaf)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Clinic CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "station-3")]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(2)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("station-3.clinic.example"),
                 x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "station.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (tmp_path / "station.key").write_bytes(leaf_key.private_bytes(
        pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    (tmp_path / "station.key").chmod(0o600)
    return tmp_path / "ca.pem", tmp_path / "station.pem", tmp_path / "station.key", leaf


def test_the_clinics_certificate_is_served_and_checked_against_its_ca(tmp_path):
    ca, cert, key, leaf = _clinic_ca(tmp_path)
    settings = load_settings(overrides={"companion.lan": "true", "companion.port": "0",
                                        "companion.cert_file": str(cert),
                                        "companion.key_file": str(key)})
    opts = CompanionOptions.from_settings(settings)
    companion = lan(tmp_path, cert_file=opts.cert_file, key_file=opts.key_file)
    companion.start()
    try:
        async def fetch() -> int:
            async with aiohttp.ClientSession() as http:
                async with http.get(loopback(companion) + "/api/status",
                                    ssl=pinned(ca)) as r:
                    return r.status
        assert asyncio.run(fetch()) == 401            # TLS verified by the clinic's CA
    finally:
        companion.stop()
    assert companion.fingerprint == colon_hex(leaf.fingerprint(hashes.SHA256()))
    assert not (tmp_path / "tls").exists()            # nothing made when the clinic's is set


def test_a_bad_clinic_certificate_is_one_line_naming_the_file(tmp_path):
    _ca, cert, key, _leaf = _clinic_ca(tmp_path)
    other = tmp_path / "other.key"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    cases = [({"cert_file": str(tmp_path / "missing.pem"), "key_file": str(key)},
              "certificate file .*missing.pem does not exist"),
             ({"cert_file": str(cert), "key_file": str(other)},
              "other.key does not belong to the certificate .*station.pem"),
             ({"cert_file": str(junk), "key_file": str(key)}, "junk.pem is not a PEM"),
             ({"cert_file": str(cert), "key_file": str(junk)}, "junk.pem is not a PEM private"),
             ({"cert_file": str(cert)}, "set both companion.cert_file and companion.key_file")]
    (tmp_path / "keys").mkdir()                        # read() fails as it would on 0000
    cases.append(({"cert_file": str(cert), "key_file": str(tmp_path / "keys")},
                  "key file .*keys cannot be read"))
    for files, message in cases:
        companion = lan(tmp_path, **files)
        with pytest.raises(CertificateError, match=message) as err:
            companion.start()
        assert "\n" not in str(err.value)
        assert companion.url == ""                      # nothing was served


def test_https_and_wss_with_the_pinned_certificate_and_no_plain_http(tmp_path):
    companion = lan(tmp_path)
    companion.start()
    token, link = companion.pairing()
    assert link.startswith("https://")
    base = loopback(companion)
    origin = {"Origin": base}

    async def talk() -> dict:
        out: dict = {}
        trust = pinned(tmp_path / "tls" / CERT_NAME)
        async with aiohttp.ClientSession() as http:
            async with http.post(base + "/api/pair", json={"token": token, "label": "tablet"},
                                 headers=origin, ssl=trust) as r:
                out["pair"] = r.status
                secret = (await r.json())["token"]
                out["cookie"] = r.headers.getall("Set-Cookie")
            bearer = {"Authorization": f"Bearer {secret}"}
            async with http.get(base + "/api/status", headers=bearer, ssl=trust) as r:
                out["status"] = (r.status, (await r.json())["status"]["state"])
            async with http.ws_connect(base.replace("https", "wss") + "/ws", ssl=trust,
                                       headers={**bearer, **origin}) as ws:
                out["ws"] = (await ws.receive_json(timeout=5.0))["status"]["state"]
            for url, context in ((base.replace("https", "http") + "/api/status", None),
                                 (base + "/api/status", ssl.create_default_context())):
                try:
                    async with http.get(url, headers=bearer, ssl=context) as r:
                        out.setdefault("refused", []).append(r.status)
                except aiohttp.ClientError as exc:     # plain HTTP, or an unpinned client
                    out.setdefault("refused", []).append(type(exc).__name__)
        return out

    try:
        out = asyncio.run(talk())
    finally:
        companion.stop()
    assert out["pair"] == 200
    assert out["status"] == (200, "idle") and out["ws"] == "idle"
    cookie = out["cookie"][0].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    plain, unpinned = out["refused"]
    assert isinstance(plain, str)                                  # no HTTP answer at all
    assert unpinned == "ClientConnectorCertificateError"


def test_loopback_mode_stays_plain_http_without_secure_cookies(tmp_path):
    companion = Companion(StatusBoard(), CommandQueue(), port=0)
    companion.start()
    token, link = companion.pairing()

    async def pair() -> str:
        async with aiohttp.ClientSession() as http:
            async with http.post(companion.url + "/api/pair", json={"token": token}) as r:
                return r.headers["Set-Cookie"].lower()
    try:
        cookie = asyncio.run(pair())
    finally:
        companion.stop()
    assert companion.url.startswith("http://127.0.0.1:") and link.startswith("http://")
    assert companion.certificate is None and companion.fingerprint == ""
    assert "secure" not in cookie and "httponly" in cookie
    assert not (tmp_path / "tls").exists()


def test_a_tablet_pairs_over_https_on_the_lan(tmp_path, shots):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect, sync_playwright

    board = StatusBoard()
    board.publish(EngineStatus(state="running", patient="P01", side="left",
                               level="transradial", scene="laterality", phase="laterality",
                               message="Left or right hand?"))
    companion = lan(tmp_path, board=board,
                    scenes={"laterality": LateralityScene.describe()})   # not every plug-in
    companion.start()
    spki = companion.certificate.spki_sha256
    token, link = companion.pairing()
    try:
        with sync_playwright() as pw:
            untrusting = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
                untrusting.new_page().goto(companion.url + "/")   # nobody vouches for it
            untrusting.close()
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
                f"--ignore-certificate-errors-spki-list={spki}"])   # trusts this key only
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            page = context.new_page()
            page.goto(companion.url + "/")                   # the LAN address, over HTTPS
            expect(page.get_by_role("heading", name="Pair this device")).to_be_visible()
            page.fill("#token", token)
            page.click("button[type=submit]")
            expect(page.locator("#link")).to_have_text("connected", timeout=15000)  # WSS
            expect(page.locator("#scene")).to_have_text("laterality")
            expect(page.locator("#patient")).to_have_text("P01")
            assert page.evaluate("location.protocol") == "https:"
            assert page.evaluate("window.isSecureContext") is True
            cookies = {c["name"]: c for c in context.cookies()}
            session = cookies["vrgmi_session"]
            assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Strict"
            page.screenshot(path=str(shots / "companion-https-paired.png"))
            browser.close()
    finally:
        companion.stop()
    assert companion.url.startswith("https://") and link.startswith(companion.url)


CARD_SCRIPT = """
import sys
from vrgmi.companion.pairing_card import show_pairing_card
from vrgmi.render.display import grab_rgba, open_display, save_png
url, token, fingerprint, out = sys.argv[1:5]
display = open_display("headless", size=(1280, 720))
card = show_pairing_card(display.base, url, token, fingerprint)
save_png(grab_rgba(display.base)[..., :3], out)
print(card.find("**/pairing-text").node().get_text())
"""


def test_the_pairing_card_shows_the_fingerprint(tmp_path, shots):
    companion = lan(tmp_path)
    companion.start()
    companion.stop()
    token, _link = companion.pairing()
    out = shots / "pairing-card-fingerprint.png"
    done = subprocess.run([sys.executable, "-c", CARD_SCRIPT, companion.url, token,
                           companion.fingerprint, str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    octets = companion.fingerprint.split(":")
    assert lines[1] == companion.url and lines[2] == f"token {token}"
    assert lines[3:] == ["certificate SHA-256:"] + [":".join(octets[i:i + 8])
                                                     for i in range(0, 32, 8)]
    from PIL import Image
    shot = np.asarray(Image.open(out).convert("RGB"), int)
    corner = shot[:, shot.shape[1] // 2:]
    assert (corner.sum(axis=2) > 700).mean() > 0.02                 # the card is drawn
