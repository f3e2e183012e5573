"""The live feed: status a few times a second and the patient's view a few frames a second,
broadcast to every connected WebSocket, each message encoded once for all clients.

Text messages are JSON ``{"type": "status", "status": {...}}`` (and replies to commands);
binary messages are the latest JPEG of the patient's view. A client that cannot keep up
(its send takes longer than ``SEND_TIMEOUT_S``) is dropped rather than slowing the others.
Each socket belongs to a paired device: before every broadcast, sockets whose token was
revoked or has expired are closed with 1008 (policy violation) and get nothing more.
Runs on the companion's asyncio loop; reads the :class:`StatusBoard` only.
"""
from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from typing import Any

from aiohttp import WSCloseCode, web

from vrgmi.control import StatusBoard

STATUS_HZ = 5.0
IMAGE_FPS = 4.0
SEND_TIMEOUT_S = 1.0


class LiveHub:
    """The set of watching sockets and the broadcast task."""

    def __init__(self, board: StatusBoard, status_hz: float = STATUS_HZ,
                 image_fps: float = IMAGE_FPS,
                 live: Callable[[str], bool] = lambda _token_id: True) -> None:
        self.board = board
        self.status_hz = status_hz
        self.image_fps = image_fps
        self.live = live                  # is this device's session token still good?
        self.clients: dict[web.WebSocketResponse, str] = {}     # socket -> its token id
        self.sent_images = 0
        self._task: asyncio.Task | None = None

    @property
    def watching(self) -> int:
        """How many sockets are watching now (the frame loop captures the view only if > 0)."""
        return len(self.clients)

    def add(self, ws: web.WebSocketResponse, token_id: str) -> None:
        """Start sending to ``ws``, which device ``token_id`` opened."""
        self.clients[ws] = token_id

    def discard(self, ws: web.WebSocketResponse) -> None:
        """Stop sending to ``ws``."""
        self.clients.pop(ws, None)

    async def close_device(self, token_id: str) -> int:
        """Close every socket device ``token_id`` has open (1008); how many there were."""
        mine = [ws for ws, owner in list(self.clients.items()) if owner == token_id]
        for ws in mine:
            self.clients.pop(ws, None)
        await asyncio.gather(*(_close(ws) for ws in mine))
        return len(mine)

    async def _close_dead(self) -> None:
        """Close the sockets of devices whose token was revoked or has expired."""
        for token_id in {t for t in self.clients.values() if not self.live(t)}:
            await self.close_device(token_id)

    def start(self) -> None:
        """Start broadcasting (on the running loop)."""
        self._task = asyncio.get_running_loop().create_task(self._broadcast())

    async def stop(self) -> None:
        """Stop broadcasting and close every socket."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for ws in list(self.clients):
            await ws.close()
        self.clients.clear()

    def status_message(self) -> str:
        """The current status as the JSON text every client gets."""
        _seq, status = self.board.status()
        return dumps({"type": "status", "status": status})

    async def _broadcast(self) -> None:
        status_seq = image_seq = -1
        tick = 0.25 / max(self.status_hz, self.image_fps)   # fine enough to keep both rates
        next_status = next_image = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(tick)
            if not self.clients:
                continue
            now = loop.time()
            if now >= next_status:
                next_status = now + 1.0 / self.status_hz
                await self._close_dead()
                seq = self.board.status()[0]
                if seq != status_seq:
                    status_seq = seq
                    await self._send_all(self.status_message())
            if now >= next_image:
                next_image = now + 1.0 / self.image_fps
                seq, image = self.board.image()
                if seq != image_seq and image:
                    image_seq = seq
                    await self._close_dead()
                    await self._send_all(image)
                    self.sent_images += len(self.clients)

    async def _send_all(self, message: str | bytes) -> None:
        clients = list(self.clients)
        results = await asyncio.gather(*(self._send(ws, message) for ws in clients))
        for ws, ok in zip(clients, results):
            if not ok:
                self.clients.pop(ws, None)
                await ws.close()

    @staticmethod
    async def _send(ws: web.WebSocketResponse, message: str | bytes) -> bool:
        try:
            if isinstance(message, bytes):
                await asyncio.wait_for(ws.send_bytes(message), SEND_TIMEOUT_S)
            else:
                await asyncio.wait_for(ws.send_str(message), SEND_TIMEOUT_S)
            return True
        except (asyncio.TimeoutError, ConnectionError, RuntimeError):
            return False


async def _close(ws: web.WebSocketResponse) -> None:
    """Close ``ws`` as refused by policy, without waiting long on a stuck client."""
    try:
        await asyncio.wait_for(ws.close(code=WSCloseCode.POLICY_VIOLATION,
                                        message=b"companion: this device is no longer paired"),
                               SEND_TIMEOUT_S)
    except (asyncio.TimeoutError, ConnectionError, RuntimeError):
        pass


def finite(value: Any) -> Any:
    """``value`` with NaN and infinities as None and NumPy scalars as Python numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return finite(value.item())
    return value


def dumps(value: Any) -> str:
    """Strict JSON (what a browser's JSON.parse accepts) of ``value``."""
    return json.dumps(finite(value), allow_nan=False, default=str, separators=(",", ":"))
