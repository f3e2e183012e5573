"""The live feed: status a few times a second and the patient's view a few frames a second,
broadcast to every connected WebSocket, each message encoded once for all clients.

Text messages are JSON ``{"type": "status", "status": {...}}`` (and replies to commands);
binary messages are the latest JPEG of the patient's view. A client that cannot keep up
(its send takes longer than ``SEND_TIMEOUT_S``) is dropped rather than slowing the others.
Runs on the companion's asyncio loop; reads the :class:`StatusBoard` only.
"""
from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from aiohttp import web

from vrgmi.control import StatusBoard

STATUS_HZ = 5.0
IMAGE_FPS = 4.0
SEND_TIMEOUT_S = 1.0


class LiveHub:
    """The set of watching sockets and the broadcast task."""

    def __init__(self, board: StatusBoard, status_hz: float = STATUS_HZ,
                 image_fps: float = IMAGE_FPS) -> None:
        self.board = board
        self.status_hz = status_hz
        self.image_fps = image_fps
        self.clients: set[web.WebSocketResponse] = set()
        self.sent_images = 0
        self._task: asyncio.Task | None = None

    @property
    def watching(self) -> int:
        """How many sockets are watching now (the frame loop captures the view only if > 0)."""
        return len(self.clients)

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
                seq = self.board.status()[0]
                if seq != status_seq:
                    status_seq = seq
                    await self._send_all(self.status_message())
            if now >= next_image:
                next_image = now + 1.0 / self.image_fps
                seq, image = self.board.image()
                if seq != image_seq and image:
                    image_seq = seq
                    await self._send_all(image)
                    self.sent_images += len(self.clients)

    async def _send_all(self, message: str | bytes) -> None:
        clients = list(self.clients)
        results = await asyncio.gather(*(self._send(ws, message) for ws in clients))
        for ws, ok in zip(clients, results):
            if not ok:
                self.clients.discard(ws)
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
