"""The companion web app: an aiohttp server on its own thread and asyncio loop.

It reads :class:`vrgmi.control.StatusBoard` snapshots and puts checked
:class:`vrgmi.control.Command` objects on the :class:`CommandQueue`; it never touches the
engine or Panda3D. Every request but pairing needs a session token (cookie or bearer);
hosts, origins, sizes, values and rates are checked before a command is queued, and every
command, accepted or not, goes to the audit trail. See docs/companion.md.
"""
from __future__ import annotations

import asyncio
import html
import ipaddress
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from vrgmi.companion.auth import (COOKIE_NAME, MAX_TOKEN_CHARS, AuthError, TokenInfo, TokenStore,
                                  pairing_banner, pairing_url, qr_svg)
from vrgmi.companion.commands import MAX_TEXT, CommandRejected, RateLimiter, check_command
from vrgmi.companion.live import LiveHub, dumps, finite
from vrgmi.companion.outcomes import OutcomeRoutes
from vrgmi.companion.records import (EXPORT_FORMATS, AuditTrail, CompanionRecords,
                                     PatientNotFound, RecordsUnavailable)
from vrgmi.companion.safejson import JsonRejected, parse_json
from vrgmi.companion.tls import Certificate, companion_certificate, this_machine
from vrgmi.control import CommandQueue, StatusBoard
from vrgmi.errors import VrgmiError
from vrgmi.ids import PATIENT_ID_RULE, is_patient_id
from vrgmi.paths import data_dir

DEFAULT_PORT = 8470
MAX_BODY = 16 * 1024           # bytes of an HTTP request body
MAX_WS_MESSAGE = 4 * 1024      # bytes of a WebSocket message
MAX_NOTE = 4000                # characters of a therapist's note
COMMAND_RATE = (10.0, 20.0)    # per token: 10 commands a second on average, bursts of 20
PAIR_RATE = (0.5, 5.0)         # per address: a pairing try every 2 s, bursts of 5
WS_STRIKES = 40                # rate-limited WebSocket messages (less one for each taken)
#                                before the socket is closed
WS_COOLDOWN_S = 10.0           # then that device may not open a WebSocket for this long
WS_CLOSE_WAIT_S = 1.0          # a closed socket's client has this long to answer the close
SERVER_NAME = "vrgmi-companion"  # the Server header: no product versions
UNPAIRED_PATHS = ("/pair", "/api/pair", "/static/pair.js")
FETCH_SITES = ("same-origin", "none")    # Sec-Fetch-Site values a state change may carry
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")  # the methods that change nothing
STATIC_NAME = re.compile(r"[a-z0-9_-]{1,40}\.(html|js|css|svg|png)")
CONTENT_TYPES = {"html": "text/html", "js": "text/javascript", "css": "text/css",
                 "svg": "image/svg+xml", "png": "image/png"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                               "style-src 'self' 'unsafe-inline'; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
log = logging.getLogger("vrgmi.companion")
TOKEN_KEY: web.RequestKey[TokenInfo] = web.RequestKey("token", TokenInfo)
AUDITED_KEY: web.RequestKey[bool] = web.RequestKey("audited", bool)


class CompanionError(VrgmiError):
    """The companion cannot start (port taken, bad host)."""


@dataclass
class CompanionOptions:
    """The ``companion.*`` settings, with their defaults when the settings lack them."""

    enabled: bool = True
    port: int = DEFAULT_PORT
    lan: bool = False
    cert_file: str = ""
    key_file: str = ""

    @classmethod
    def from_settings(cls, settings: Any) -> "CompanionOptions":
        """Read ``settings.companion`` if there is such a section."""
        section = getattr(settings, "companion", None)
        keys = ("enabled", "port", "lan", "cert_file", "key_file")
        return cls(**{k: getattr(section, k) for k in keys
                      if section is not None and hasattr(section, k)})


def lan_address() -> str:
    """This machine's address on the local network (no packet is sent to find it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))        # TEST-NET-1: only picks the outgoing interface
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def _static_files() -> dict[str, Path]:
    root = Path(str(files("vrgmi.companion") / "static"))
    return {p.name: p for p in root.iterdir() if p.is_file() and STATIC_NAME.fullmatch(p.name)}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, dumps=dumps)


class Companion:
    """The therapist's companion server (``start`` / ``stop``; ``url`` once started)."""

    def __init__(self, board: StatusBoard, commands: CommandQueue,
                 records: CompanionRecords | None = None, host: str = "127.0.0.1",
                 port: int = DEFAULT_PORT, lan: bool = False,
                 scenes: dict[str, dict[str, Any]] | None = None,
                 tokens: TokenStore | None = None,
                 command_rate: tuple[float, float] = COMMAND_RATE,
                 pair_rate: tuple[float, float] = PAIR_RATE,
                 cert_file: str = "", key_file: str = "", tls_dir: Path | None = None) -> None:
        self.board = board
        self.commands = commands
        self.records = records
        self.lan = lan
        self.host = "0.0.0.0" if lan else host
        if not lan and host not in ("127.0.0.1", "localhost", "::1"):
            raise CompanionError(f"companion: host {host!r} is not this machine; set "
                                 "companion.lan = true to serve the local network")
        self.port = port
        self._cert_files = (cert_file, key_file)
        self._tls_dir = tls_dir
        self.certificate: Certificate | None = None     # LAN mode: always HTTPS and WSS
        self.tokens = tokens or TokenStore()
        self.audit = AuditTrail(records)
        self.hub = LiveHub(board, live=self.tokens.is_live)
        self._scenes = scenes
        self._command_limit = RateLimiter(*command_rate)
        self._pair_limit = RateLimiter(*pair_rate)
        self._cooling: dict[str, float] = {}     # token id -> when it may open a socket again
        self._static = _static_files()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> str:
        """Serve on a thread of its own; returns the URL. Raises CompanionError if it can't."""
        if self.lan:
            self.certificate = companion_certificate(
                *self._cert_files, self._tls_dir or data_dir() / "companion-tls",
                this_machine(lan_address()))
        ready = threading.Event()
        failure: list[BaseException] = []
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._startup())
            except BaseException as exc:   # reported to start() and re-raised there
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._shutdown())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="vrgmi-companion", daemon=True)
        self._thread.start()
        ready.wait(30.0)
        if failure:
            self._thread.join()
            exc = failure[0]
            raise CompanionError(f"companion: cannot serve on {self.host}:{self.port}: "
                                 f"{getattr(exc, 'strerror', None) or exc}") from None
        return self.url

    def stop(self) -> None:
        """Close every connection and stop the server thread. Safe to call twice."""
        if self._thread is not None and self._thread.is_alive() and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10.0)
        self.audit.close()

    @property
    def watching(self) -> int:
        """How many live views are open (the frame loop encodes the view only when > 0)."""
        return self.hub.watching

    def pairing(self) -> tuple[str, str]:
        """Open pairing: (one-time token, the URL its QR code carries)."""
        token = self.tokens.new_pairing_token()
        return token, pairing_url(self.url, token)

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint of the certificate served (empty over loopback HTTP)."""
        return self.certificate.fingerprint if self.certificate else ""

    def pairing_banner(self) -> str:
        """Open pairing and return the console text (URL, token, QR code, fingerprint)."""
        token, _link = self.pairing()
        return pairing_banner(self.url, token, self.fingerprint)

    async def _startup(self) -> None:
        app = self.build_app()
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        tls = self.certificate.server_context() if self.certificate else None
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=tls)
        await site.start()
        port = self._runner.addresses[0][1]
        self.port = port
        shown = lan_address() if self.lan else "127.0.0.1"
        self.url = f"{'https' if tls else 'http'}://{shown}:{port}"
        self.hub.start()

    async def _shutdown(self) -> None:
        await self.hub.stop()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- the app ---------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        """The aiohttp application (routes and middlewares)."""
        app = web.Application(client_max_size=MAX_BODY,
                              middlewares=[self._guard, self._host_check, self._auth])
        app.on_response_prepare.append(_stamp)
        r = app.router
        r.add_get("/pair", self.pair_page)
        r.add_post("/api/pair", self.pair_api)
        r.add_get("/", self.index)
        r.add_get("/static/{name}", self.static)
        r.add_get("/ws", self.websocket)
        r.add_get("/api/status", self.status)
        r.add_get("/api/view.jpg", self.view)
        r.add_get("/api/scenes", self.scenes_api)
        r.add_post("/api/command", self.command)
        r.add_get("/api/tokens", self.tokens_api)
        r.add_post("/api/tokens/{token_id}/revoke", self.revoke)
        r.add_post("/api/pairing", self.new_pairing)
        r.add_get("/api/audit", self.audit_api)
        r.add_get("/api/patients", self.patients)
        r.add_get("/api/patients/{pid}", self.patient)
        r.add_get("/api/patients/{pid}/plots/{plot}.png", self.plot)
        r.add_post("/api/patients/{pid}/notes", self.add_note)
        r.add_post("/api/patients/{pid}/step_back", self.step_back)
        r.add_get("/api/patients/{pid}/export/{fmt}", self.export)
        OutcomeRoutes(self).add_to(r)
        return app

    @web.middleware
    async def _guard(self, request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                     ) -> web.StreamResponse:
        """The one catch-all: every error becomes a one-line JSON answer (400 for bad input,
        500 for a bug, logged in one line without a traceback), and every state-changing
        request that reached a handler leaves exactly one audit row."""
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = _error(exc.status, exc.text if exc.text and not exc.text.startswith(
                str(exc.status)) else exc.reason)
        except VrgmiError as exc:
            response = _error(400, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:               # a bug: answered, audited, the loop goes on
            log.error("companion: %s %r failed: %s", request.method, request.path[:80],
                      type(exc).__name__)          # %r: a path cannot forge log lines
            response = _error(500, f"companion: internal error ({type(exc).__name__})")
        if request.get(AUDITED_KEY) is False:
            self._audit(request, request.path.rsplit("/", 1)[-1] or "?", {},
                        response.status < 400, _reason(response))
        return response

    def _host_allowed(self, host_header: str) -> bool:
        """Host header: this port, and a loopback name, an IP literal (LAN) or our name.
        Anything else is a DNS-rebinding attempt."""
        host, _, port = host_header.rpartition(":")
        if not host or port != str(self.port):
            return False
        host = host.strip("[]").lower()
        if host in ("127.0.0.1", "localhost", "::1"):
            return True
        if not self.lan:
            return False
        try:
            ipaddress.ip_address(host)
            return True
        except ValueError:
            name = socket.gethostname().lower()
            return host in (name, name + ".local")

    @web.middleware
    async def _host_check(self, request: web.Request, handler) -> web.StreamResponse:
        if not self._host_allowed(request.host or ""):
            return _error(421, "companion: wrong host name for this server")
        if request.method not in SAFE_METHODS:
            if request.headers.get("Sec-Fetch-Site", "same-origin") not in FETCH_SITES:
                return _error(403, "companion: requests from another site are refused")
            if request.content_type != "application/json":
                return _error(415, "companion: send the body as application/json")
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            return _error(403, "companion: requests from another site are refused")
        return await handler(request)

    @web.middleware
    async def _auth(self, request: web.Request, handler) -> web.StreamResponse:
        if request.path in UNPAIRED_PATHS:
            request[AUDITED_KEY] = request.method in SAFE_METHODS
            return await handler(request)
        info = self.tokens.verify(self._secret(request))
        if info is None:
            if request.path == "/" and request.method == "GET":
                return web.Response(text=_pair_form(""), content_type="text/html", status=401)
            return _error(401, "companion: not paired (open the pairing link shown on the "
                               "engine's screen)")
        request[TOKEN_KEY] = info
        request[AUDITED_KEY] = request.method in SAFE_METHODS    # a state change owes a row
        return await handler(request)

    @staticmethod
    def _secret(request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[7:].strip()
        return request.cookies.get(COOKIE_NAME)

    # -- pairing ---------------------------------------------------------------------------
    def _pair(self, request: web.Request, token: Any, label: str) -> tuple[str, TokenInfo]:
        """Pair, limited and counted per address (one address's failures stop only it)."""
        address = request.remote or "?"
        if not self._pair_limit.allow(address):
            raise web.HTTPTooManyRequests(text="pairing: too many tries; wait a minute")
        return self.tokens.pair(token if isinstance(token, str) else "", label, address)

    def _set_cookie(self, response: web.StreamResponse, secret: str) -> None:
        response.set_cookie(COOKIE_NAME, secret, httponly=True, samesite="Strict", path="/",
                            max_age=int(self.tokens.session_ttl_s),
                            secure=self.certificate is not None)

    async def pair_page(self, request: web.Request) -> web.StreamResponse:
        """GET /pair?token=...: the QR code's link. It only shows the form, filled in; the
        device pairs when the therapist presses Pair (a POST), so a link or an image on
        another site cannot pair a browser or use up the token."""
        token = request.query.get("token", "")
        return web.Response(text=_pair_form("", token[:MAX_TOKEN_CHARS]),
                            content_type="text/html")

    async def pair_api(self, request: web.Request) -> web.Response:
        """POST /api/pair {"token", "label"}: pairs (the page's script, or a script with the
        token); returns the bearer token and sets the session cookie. Audited."""
        body = await _json_body(request)
        label = body.get("label")
        if not isinstance(label, str) or not label.strip():
            label = request.headers.get("User-Agent", "device")
        label = _printable(label)
        try:
            secret, info = self._pair(request, body.get("token"), label)
        except AuthError as exc:
            self._audit(request, "pair", {"label": label}, False, str(exc))
            return _error(403, str(exc))
        request[TOKEN_KEY] = info
        self._audit(request, "pair", {"label": label}, True, "")
        response = web.json_response({"token": secret, **info.as_dict()})
        self._set_cookie(response, secret)
        return response

    async def new_pairing(self, request: web.Request) -> web.Response:
        """POST /api/pairing: a paired device opens pairing for another one (audited)."""
        token, link = self.pairing()
        self._audit(request, "new_pairing", {}, True, "")
        return web.json_response({"token": token, "url": link, "qr_svg": qr_svg(link)})

    async def tokens_api(self, request: web.Request) -> web.Response:
        """GET /api/tokens: every paired device (public ids, no secrets)."""
        return web.json_response({"tokens": self.tokens.tokens(),
                                  "you": request[TOKEN_KEY].id})

    async def revoke(self, request: web.Request) -> web.Response:
        """POST /api/tokens/{id}/revoke."""
        token_id = request.match_info["token_id"]
        if not re.fullmatch(r"[0-9a-f]{8}", token_id) or not self.tokens.revoke(token_id):
            self._audit(request, "revoke_token", {"token": token_id}, False, "no such device")
            return _error(404, f"companion: no paired device {token_id[:16]!r}")
        await self.hub.close_device(token_id)        # its open sockets go now, with 1008
        self._audit(request, "revoke_token", {"token": token_id}, True, "")
        return web.json_response({"revoked": token_id})

    # -- pages and live --------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.StreamResponse:
        """GET /: the single-page app."""
        return self._file("index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        """GET /static/{name}: only the files shipped in the package, by exact name."""
        return self._file(request.match_info["name"])

    def _file(self, name: str) -> web.StreamResponse:
        path = self._static.get(name)
        if path is None:
            return _error(404, "companion: no such file")
        suffix = name.rsplit(".", 1)[1]
        return web.Response(body=path.read_bytes(), content_type=CONTENT_TYPES[suffix],
                            charset="utf-8" if suffix in ("html", "js", "css", "svg") else None)

    async def status(self, request: web.Request) -> web.Response:
        """GET /api/status: the engine's latest status."""
        return web.Response(text=self.hub.status_message(), content_type="application/json")

    async def view(self, request: web.Request) -> web.Response:
        """GET /api/view.jpg: the latest patient's view (204 before the first)."""
        _seq, image = self.board.image()
        if not image:
            return web.Response(status=204)
        kind = "image/png" if image[:4] == b"\x89PNG" else "image/jpeg"
        return web.Response(body=image, content_type=kind)

    async def scenes_api(self, request: web.Request) -> web.Response:
        """GET /api/scenes: every installed scene with its difficulty schema; the levels."""
        from vrgmi.settings import LOWER_LEVELS, UPPER_LEVELS

        return web.json_response({"scenes": list(self.scenes().values()),
                                  "levels": list(UPPER_LEVELS + LOWER_LEVELS)}, dumps=dumps)

    def scenes(self) -> dict[str, dict[str, Any]]:
        """Installed scenes by name (their ``describe()``), loaded once."""
        if self._scenes is None:
            from vrgmi.scenes import available_scenes

            try:
                self._scenes = {n: c.describe() for n, c in available_scenes().items()}
            except VrgmiError:
                self._scenes = {}
        return self._scenes

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """GET /ws: the live feed; also takes commands as JSON text messages."""
        if request.headers.get("Origin") is None:
            return _error(403, "companion: a WebSocket needs the page's Origin")
        token_id = request[TOKEN_KEY].id
        if self._cooling.get(token_id, 0.0) > time.monotonic():
            return _error(429, "companion: this device sent too many commands; wait a moment")
        ws = web.WebSocketResponse(max_msg_size=MAX_WS_MESSAGE, heartbeat=20.0,
                                   timeout=WS_CLOSE_WAIT_S)
        await ws.prepare(request)
        self.hub.add(ws, token_id)
        strikes = 0
        try:
            await ws.send_str(self.hub.status_message())
            async for msg in ws:
                if not self.tokens.is_live(token_id):      # revoked or expired since
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION,
                                   message=b"companion: this device is no longer paired")
                    break
                try:
                    reply = self._ws_message(request, msg)
                except Exception as exc:      # a bug: answered, the socket and loop go on
                    log.error("companion: WebSocket message failed: %s", type(exc).__name__)
                    reply = {"type": "reply", "ok": False,
                             "error": f"companion: internal error ({type(exc).__name__})"}
                strikes = strikes + 1 if reply.get("limited") else max(0, strikes - 1)
                if strikes >= WS_STRIKES:
                    self._cooling[token_id] = time.monotonic() + WS_COOLDOWN_S
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION,
                                   message=b"companion: too many commands")
                    break
                await ws.send_str(dumps(reply))
        except (ConnectionError, asyncio.TimeoutError):
            pass                                  # the client went away
        finally:
            self.hub.discard(ws)
        return ws

    def _ws_message(self, request: web.Request, msg: Any) -> dict[str, Any]:
        """The reply to one WebSocket message: every message is a command, rate-limited,
        parsed with the bounded parser and audited once."""
        if msg.type != WSMsgType.TEXT:
            body: Any = None
            error = "companion: send JSON text"
        else:
            try:
                body, error = parse_json(msg.data, MAX_WS_MESSAGE), ""
            except JsonRejected as exc:
                body, error = None, str(exc)
        ref = body.get("ref") if isinstance(body, dict) else None
        status, out = self._submit(request, body, error)
        return {"type": "reply", "ref": ref if isinstance(ref, (int, str)) else None,
                "ok": status == 202, **out}

    # -- commands --------------------------------------------------------------------------
    async def command(self, request: web.Request) -> web.Response:
        """POST /api/command {"command", "args"}: 202 when queued for the next frame."""
        try:
            body, error = await _json_body(request), ""
        except JsonRejected as exc:
            body, error = None, str(exc)
        status, out = self._submit(request, body, error)
        return web.json_response(out, status=status, dumps=dumps)

    def _submit(self, request: web.Request, body: Any,
                error: str = "") -> tuple[int, dict[str, Any]]:
        """Rate-limit, check, audit and queue one command; (HTTP status, reply). ``error``
        is why the body could not be parsed. Rate-limited rejections are folded into one
        audit row per device and command."""
        info = request[TOKEN_KEY]
        name = body.get("command") if isinstance(body, dict) else None
        args = body.get("args") if isinstance(body, dict) else None
        name = name if isinstance(name, str) else "?"
        args = args if isinstance(args, dict) else {}
        if not self._command_limit.allow(info.id):
            self.audit.fold((info.id, name[:32]), self._entry(request, name, args, False,
                                                              "rate limited"))
            request[AUDITED_KEY] = True
            return 429, {"error": "companion: too many commands; slow down", "limited": True}
        if error:
            self._audit(request, name, args, False, error)
            return 400, {"error": error}
        _seq, status = self.board.status()
        try:
            cmd = check_command(body, status, self.scenes(), by=f"companion:{info.id}")
        except CommandRejected as exc:
            self._audit(request, name, args, False, str(exc))
            return 400, {"error": str(exc)}
        self.commands.put(cmd)
        self._audit(request, cmd.name, cmd.args, True, "", cmd.id)
        return 202, {"accepted": True, "id": cmd.id, "command": cmd.name}

    def _audit(self, request: web.Request, command: str, args: dict[str, Any], accepted: bool,
               reason: str, command_id: str = "", patient: str | None = None) -> None:
        """One audit row for this request (marks it audited: the catch-all adds none)."""
        self.audit.record(self._entry(request, command, args, accepted, reason, command_id,
                                      patient))
        request[AUDITED_KEY] = True

    def _entry(self, request: web.Request, command: str, args: dict[str, Any], accepted: bool,
               reason: str, command_id: str = "", patient: str | None = None
               ) -> dict[str, Any]:
        """An audit entry: who (device id and label, or the address of an unpaired
        client), what, whether it was accepted and why not, and the patient it concerns."""
        _seq, status = self.board.status()
        info = request.get(TOKEN_KEY)
        by = (f"companion:{info.id} ({info.label[:40]})" if info
              else f"unpaired:{(request.remote or '?')[:40]}")
        return {"by": by, "command": command[:32], "args": _clip(args),
                "accepted": accepted, "reason": reason[:500], "command_id": command_id,
                "patient": patient or status.get("patient") or None,
                "session": None if patient else status.get("session") or None,
                "wall": time.time()}

    async def audit_api(self, request: web.Request) -> web.Response:
        """GET /api/audit: the latest commands, newest first."""
        return web.json_response({"entries": self.audit.recent(100)}, dumps=dumps)

    # -- patients --------------------------------------------------------------------------
    def _records(self) -> CompanionRecords:
        if self.records is None:
            raise RecordsUnavailable("companion: no records database is configured")
        return self.records

    @staticmethod
    def _pid(request: web.Request) -> str:
        pid = request.match_info["pid"]
        if not is_patient_id(pid):
            raise web.HTTPBadRequest(text=f"companion: a patient id {PATIENT_ID_RULE}")
        return pid

    async def _blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a records call off the loop; missing patients become 404, errors one line."""
        try:
            return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
        except PatientNotFound as exc:
            raise web.HTTPNotFound(text=str(exc)) from None
        except RecordsUnavailable as exc:
            raise web.HTTPServiceUnavailable(text=str(exc)) from None
        except VrgmiError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from None
        except Exception as exc:      # a records or export bug: one line, no traceback
            log.error("companion: %s failed: %s", getattr(fn, "__name__", "records call"),
                      type(exc).__name__)
            raise web.HTTPInternalServerError(
                text=f"companion: the records could not answer ({type(exc).__name__})") from None

    async def _read(self, request: web.Request, what: str, args: dict[str, Any],
                    patient: str | None, fn: Callable[..., Any], *fn_args: Any) -> Any:
        """A read of patient data, audited (who read what, and whether it was given)."""
        try:
            result = await self._blocking(fn, *fn_args)
        except web.HTTPException as exc:
            self._audit(request, what, args, False, exc.text or exc.reason, patient=patient)
            raise
        self._audit(request, what, args, True, "", patient=patient)
        return result

    async def patients(self, request: web.Request) -> web.Response:
        """GET /api/patients (audited: a read of patient data)."""
        rows = await self._read(request, "read_patients", {}, None, self._records().patients)
        return web.json_response({"patients": rows}, dumps=dumps)

    async def patient(self, request: web.Request) -> web.Response:
        """GET /api/patients/{pid}: program, phase, gating, sessions, notes, plot names."""
        pid = self._pid(request)
        records = self._records()
        page = await self._read(request, "read_patient", {"patient": pid}, pid,
                                records.patient_page, pid)
        page["plots"] = list(records.plot_names())
        return web.json_response(page, dumps=dumps)

    async def plot(self, request: web.Request) -> web.Response:
        """GET /api/patients/{pid}/plots/{plot}.png."""
        pid = self._pid(request)
        records = self._records()
        plot = request.match_info["plot"]
        if plot not in records.plot_names():
            return _error(404, f"companion: no plot {plot[:32]!r}")
        png = await self._read(request, "read_plot", {"patient": pid, "plot": plot}, pid,
                               records.plot_png, pid, plot)
        return web.Response(body=png, content_type="image/png")

    async def add_note(self, request: web.Request) -> web.Response:
        """POST /api/patients/{pid}/notes {"text"} (audited, without the note's text)."""
        pid = self._pid(request)
        body = await _json_body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE:
            self._audit(request, "add_note", {"patient": pid}, False, "no text", patient=pid)
            return _error(400, f"companion: a note is 1-{MAX_NOTE} characters of text")
        author = f"companion:{request[TOKEN_KEY].id}"
        note = await self._read(request, "add_note", {"patient": pid, "chars": len(text)},
                                pid, self._records().add_note, pid, text.strip(), author)
        return web.json_response(note, status=201, dumps=dumps)

    async def step_back(self, request: web.Request) -> web.Response:
        """POST /api/patients/{pid}/step_back {"reason"}: move the patient back one phase
        (audited). During the patient's session it is the ``step_back`` command (the
        session records it); otherwise the records' program changes at once."""
        pid = self._pid(request)
        body = await _json_body(request)
        reason = body.get("reason")
        _seq, status = self.board.status()
        if status.get("patient") == pid and status.get("state") in ("running", "paused"):
            code, out = self._submit(request, {"command": "step_back",
                                               "args": {"reason": reason}})
            return web.json_response(out, status=code, dumps=dumps)
        args = {"patient": pid, "reason": reason}
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_TEXT:
            self._audit(request, "step_back", args, False, "no reason")
            return _error(400, f"companion: a step back needs a reason (1-{MAX_TEXT} "
                               "characters)")
        by = f"companion:{request[TOKEN_KEY].id}"
        try:
            result = await self._blocking(self._records().step_back, pid, reason.strip(), by)
        except web.HTTPException as exc:
            self._audit(request, "step_back", args, False, exc.text or "")
            raise
        self._audit(request, "step_back", args, True, "")
        return web.json_response(result, dumps=dumps)

    async def export(self, request: web.Request) -> web.Response:
        """GET /api/patients/{pid}/export/{csv|fhir|pdf}: a download."""
        pid = self._pid(request)
        fmt = request.match_info["fmt"]
        if fmt not in EXPORT_FORMATS:
            return _error(404, f"companion: export formats are {', '.join(EXPORT_FORMATS)}")
        body = await self._read(request, "export", {"patient": pid, "format": fmt}, pid,
                                self._records().export, pid, fmt)
        suffix, kind = EXPORT_FORMATS[fmt]
        return web.Response(body=body, headers={
            "Content-Type": kind, "Content-Disposition": download_disposition(pid, suffix)})


def download_disposition(pid: str, suffix: str) -> str:
    """The Content-Disposition of an export, built only from a valid patient id and one of
    the export suffixes (nothing a client sent can reach the header otherwise)."""
    if not is_patient_id(pid) or suffix not in {s for s, _k in EXPORT_FORMATS.values()}:
        raise VrgmiError(f"companion: no export file name for {pid[:16]!r}")
    return f'attachment; filename="vrgmi-{pid}.{suffix}"'


async def _json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body (size- and depth-bounded, finite numbers only), or a
    one-line 400 (413 when too large)."""
    body = parse_json(await request.read(), MAX_BODY)
    if not isinstance(body, dict):
        raise JsonRejected("companion: the body must be a JSON object")
    return body


async def _stamp(request: web.Request, response: web.StreamResponse) -> None:
    """Every response, WebSocket handshakes and errors included: the security headers, and
    a Server header that names no product versions."""
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    response.headers["Server"] = SERVER_NAME


def _reason(response: web.StreamResponse) -> str:
    """Why a request failed, from its JSON error body ("" when it did not)."""
    if response.status < 400 or not isinstance(response, web.Response) or not response.body:
        return ""
    try:
        return str(json.loads(bytes(response.body)).get("error", ""))[:500]
    except (ValueError, AttributeError, TypeError):
        return response.reason or ""


def _printable(text: str, limit: int = 40) -> str:
    """A device label as shown and audited: printable characters only, ``limit`` at most."""
    return "".join(c for c in text if c.isprintable())[:limit].strip() or "device"


def _clip(args: dict[str, Any]) -> dict[str, Any]:
    """Arguments as stored in the audit log: short keys and values, valid JSON (a number
    that is not finite is stored as its text)."""
    out = {}
    for key, value in list(args.items())[:8]:
        if isinstance(value, float) and finite(value) is None:
            value = repr(value)
        elif not isinstance(value, (int, float)):         # bool is an int
            value = str(value)[:200]
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2 ** 53:
            value = "<a number too long to store>"
        out[str(key)[:32]] = value
    return out


def _pair_form(message: str, token: str = "") -> str:
    """The page an unpaired browser sees: how to pair, and a box to type the token (filled
    in from the QR code's link). Its script (/static/pair.js) POSTs the token as JSON."""
    note = f'<p class="err" id="pair-error" role="alert">{html.escape(message)}</p>'
    value = f' value="{html.escape(token)}"' if token else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vrgmi companion: pair this device</title>
<style>body{{font:18px system-ui,sans-serif;background:#eef1f3;color:#1f2a33;margin:0;
display:flex;min-height:100vh;align-items:center;justify-content:center}}
main{{background:#fff;border-radius:14px;padding:32px;max-width:460px;box-shadow:0 2px 12px #0002}}
input,button{{font:inherit;padding:14px;border-radius:10px;border:1px solid #9aa7b1;width:100%;
box-sizing:border-box;margin-top:10px}}button{{background:#2f6f6b;color:#fff;border:0}}
.err{{color:#9b2c2c}}</style></head><body><main>
<h1>Pair this device</h1>{note}
<p>Scan the QR code on the engine's screen, or type the pairing token shown there.</p>
<form id="pair-form" method="post" action="/api/pair"><label for="token">Pairing token</label>
<input id="token" name="token" autocomplete="off" placeholder="XXXX-XXXX-XXXX" required{value}>
<button type="submit">Pair</button></form>
<script src="/static/pair.js"></script></main></body></html>"""
