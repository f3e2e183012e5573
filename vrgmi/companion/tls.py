"""The companion's TLS certificate in LAN mode: the clinic's own, or one made on this machine.

A certificate made here is self-signed, ECDSA P-256, names this machine (its host name, the
``.local`` name, its LAN and loopback addresses) and is kept in the user data folder with its
key file readable by the owner only (0600). It is made again when it has expired (or will
within a day) or when it no longer names every current address of the machine. The
therapist compares its SHA-256 fingerprint on the tablet with the one the engine shows.
``cryptography`` makes and reads certificates; ``ssl`` serves them (no hand-written crypto).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import re
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vrgmi.errors import VrgmiError

VALID_DAYS = 397                        # what browsers accept for a server certificate
RENEW_BEFORE = dt.timedelta(days=1)     # a certificate this close to its end is made anew
CERT_NAME = "companion-cert.pem"
KEY_NAME = "companion-key.pem"
HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}"
                       r"[a-z0-9])?)*")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class CertificateError(VrgmiError):
    """The clinic's certificate or key cannot be used (one line naming the file)."""


@dataclass(frozen=True)
class Identity:
    """What a certificate must name: DNS names and IP addresses (its subject alt names)."""

    names: frozenset[str]
    addresses: frozenset[IpAddress]


@dataclass(frozen=True)
class Certificate:
    """A certificate and key ready to serve, with what the therapist checks on the tablet."""

    cert_file: Path
    key_file: Path
    fingerprint: str        # SHA-256 of the certificate (DER), "AB:CD:...", as browsers show
    spki_sha256: str        # base64 SHA-256 of its public key (pinning, Chromium's SPKI list)

    def server_context(self) -> ssl.SSLContext:
        """An SSL context serving this certificate (TLS 1.2 or newer)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def this_machine(lan_address: str) -> Identity:
    """This machine's names and addresses: host name, ``.local``, loopback, LAN address and
    whatever the host name resolves to."""
    host = socket.gethostname().lower()
    names = {"localhost"} | {n for n in (host, f"{host.split('.')[0]}.local")
                             if HOST_NAME.fullmatch(n)}
    found = ["127.0.0.1", "::1", lan_address]
    try:
        found += [str(info[4][0]) for info in socket.getaddrinfo(host, None)]
    except OSError:
        pass
    return Identity(frozenset(names), frozenset(ipaddress.ip_address(a.split("%")[0])
                                                for a in found))


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint of ``cert`` as colon-separated upper-case hex."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def spki_sha256(cert: x509.Certificate) -> str:
    """Base64 SHA-256 of the certificate's SubjectPublicKeyInfo."""
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


def companion_certificate(cert_file: str, key_file: str, folder: Path, identity: Identity,
                          now: dt.datetime | None = None) -> Certificate:
    """The clinic's certificate when ``cert_file`` and ``key_file`` are set; else the one kept
    in ``folder``, made (again) when missing, expired or not naming ``identity``."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if cert_file or key_file:
        if not (cert_file and key_file):
            raise CertificateError("companion: set both companion.cert_file and "
                                   "companion.key_file (or neither, to use a certificate "
                                   "made on this machine)")
        return _clinic_certificate(Path(cert_file), Path(key_file), now)
    return _made_certificate(folder, identity, now)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CertificateError(f"companion: the {what} {path} does not exist") from None
    except OSError as exc:
        raise CertificateError(f"companion: the {what} {path} cannot be read "
                               f"({exc.strerror or exc})") from None


def _load(cert_path: Path, key_path: Path) -> x509.Certificate:
    """The leaf certificate of ``cert_path``, checked to match the key in ``key_path``."""
    try:
        cert = x509.load_pem_x509_certificates(_read(cert_path, "certificate file"))[0]
    except ValueError:
        raise CertificateError(f"companion: the certificate file {cert_path} is not a PEM "
                               "certificate") from None
    try:
        key = serialization.load_pem_private_key(_read(key_path, "key file"), password=None)
    except TypeError:
        raise CertificateError(f"companion: the key file {key_path} is encrypted; give the "
                               "key without a passphrase (file mode 0600)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(f"companion: the key file {key_path} is not a PEM private "
                               "key") from None
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if key.public_key().public_bytes(*spki) != cert.public_key().public_bytes(*spki):
        raise CertificateError(f"companion: the key file {key_path} does not belong to the "
                               f"certificate {cert_path}")
    return cert


def _certificate(cert_path: Path, key_path: Path, cert: x509.Certificate) -> Certificate:
    return Certificate(cert_path, key_path, fingerprint(cert), spki_sha256(cert))


def _clinic_certificate(cert_path: Path, key_path: Path, now: dt.datetime) -> Certificate:
    cert = _load(cert_path, key_path)
    if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
        raise CertificateError(
            f"companion: the certificate {cert_path} is valid only from "
            f"{cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}")
    return _certificate(cert_path, key_path, cert)


def _names(cert: x509.Certificate) -> Identity:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return Identity(frozenset(), frozenset())
    return Identity(frozenset(san.get_values_for_type(x509.DNSName)),
                    frozenset(san.get_values_for_type(x509.IPAddress)))


def _made_certificate(folder: Path, identity: Identity, now: dt.datetime) -> Certificate:
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    try:
        cert = _load(cert_path, key_path)
        named = _names(cert)
        if (now < cert.not_valid_after_utc - RENEW_BEFORE
                and identity.names <= named.names and identity.addresses <= named.addresses):
            return _certificate(cert_path, key_path, cert)
    except CertificateError:
        pass                                 # missing or damaged: make a new one
    cert_pem, key_pem = make_certificate(identity, now)
    _write(folder, cert_pem, key_pem)
    return _certificate(cert_path, key_path, x509.load_pem_x509_certificate(cert_pem))


def make_certificate(identity: Identity, now: dt.datetime) -> tuple[bytes, bytes]:
    """A new self-signed server certificate for ``identity``: (certificate PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    first = sorted(identity.names - {"localhost"}) or ["localhost"]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"vrgmi companion {first[0]}"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vrgmi")])
    alt = [x509.DNSName(n) for n in sorted(identity.names)] + \
          [x509.IPAddress(a) for a in sorted(identity.addresses, key=lambda a: (a.version, a))]
    public = key.public_key()
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                           critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write(folder: Path, cert_pem: bytes, key_pem: bytes) -> None:
    """Write the key (0600) and certificate into ``folder`` (0700), each replaced whole."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, data, mode in ((KEY_NAME, key_pem, 0o600), (CERT_NAME, cert_pem, 0o644)):
        part = folder / f".{name}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        os.fchmod(fd, mode)                  # also when the file was there with another mode
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(part, folder / name)
