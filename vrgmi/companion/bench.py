"""What watching costs the frame loop: the engine's frame p99 with and without N companion
clients watching the live view, measured in one run, in alternating blocks.

Each frame does what a session frame does for the companion: the engine frame (core, rigs,
scene; the patient's draw is left out, as in ``vrgmi bench``: on llvmpipe it is CPU
rasterisation), a status published on the board, and the live view's hand-off; the live
view's own small draw (about 320 x 180, a few a second) runs untimed after the frames that
ask for it and is reported as ``live_view_capture_draw_ms_median``. Frames are
paced at the headset rate; the clients are aiohttp WebSocket sessions on a thread of the
same process (so their Python work competes with the frame thread for the GIL, which real
clients on a tablet would not). Target: p99 with clients within 10% of p99 without.
"""
from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from vrgmi.control import EngineStatus, StatusBoard
from vrgmi.frame_loop import FrameLoop, run_frames
from vrgmi.frame_source import BenchmarkFrames

if TYPE_CHECKING:
    from vrgmi.app import Engine
    from vrgmi.companion.snapshot import LiveView

TARGET_RATIO = 1.10


class _Watchers:
    """``n`` WebSocket clients on their own thread and loop, counting what they receive."""

    def __init__(self, url: str, secret: str, n: int) -> None:
        self.url, self.secret, self.n = url, secret, n
        self.images = 0
        self.statuses = 0
        self.connected = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="vrgmi-bench-clients",
                                        daemon=True)

    def __enter__(self) -> "_Watchers":
        self._thread.start()
        if not self.connected.wait(30.0):
            raise RuntimeError("bench: companion clients could not connect")
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30.0)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        import aiohttp

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        host = self.url.split("//", 1)[1]
        headers = {"Authorization": f"Bearer {self.secret}", "Origin": f"http://{host}"}
        async with aiohttp.ClientSession() as session:
            sockets = [await session.ws_connect(f"ws://{host}/ws", headers=headers,
                                                max_msg_size=0) for _ in range(self.n)]
            readers = [asyncio.create_task(self._read(ws)) for ws in sockets]
            self.connected.set()
            await self._stop.wait()
            for ws in sockets:
                await ws.close()
            await asyncio.gather(*readers, return_exceptions=True)

    async def _read(self, ws: Any) -> None:
        import aiohttp

        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.images += 1
            else:
                self.statuses += 1


class _Published:
    """The bare engine's frame with what a session adds for the companion: the status
    published and the live view's capture (a :class:`~vrgmi.frame_loop.FrameTarget`)."""

    TRIALS = [{"index": i, "side": "left", "correct": True, "rt_s": 1.9} for i in range(5)]

    def __init__(self, engine: Engine, board: StatusBoard, live: LiveView) -> None:
        self.engine, self.board, self.live = engine, board, live

    def step(self, t: float, dt: float, render: bool = True) -> bool:
        """One engine frame, its status and the live view."""
        engine = self.engine
        engine.frame(t, dt, render)
        self.board.publish(EngineStatus(
            t=t, frame=engine.frame_index, state="running", session="bench", patient="P01",
            side="left", level="transradial", phase="laterality",
            scene=engine.scene.name, params=engine.scene.difficulty.as_dict(),
            tracking={"head": True, "left": False, "right": True},
            recent_trials=self.TRIALS))
        self.live.after_render()
        return True

    def close(self) -> dict[str, Any]:
        """Nothing to close: no session."""
        return {}


def bench_companion(clients: int = 8, seconds: float = 60.0, rate_hz: float = 90.0,
                    size: tuple[int, int] = (1280, 720), live_fps: float = 4.0,
                    blocks: int = 6) -> dict[str, Any]:
    """Frame p99 (ms) without and with ``clients`` watchers, ``blocks`` of each, alternating."""
    from vrgmi.app import Engine
    from vrgmi.companion.server import Companion
    from vrgmi.companion.snapshot import LiveView
    from vrgmi.control import CommandQueue
    from vrgmi.core import warmup
    from vrgmi.render.display import open_display
    from vrgmi.settings import load_settings
    from vrgmi.tracking.replay import ReplaySource
    from vrgmi.bench import BENCH_PATIENT, reach_replay

    warmup()
    replay = reach_replay(seconds + 5.0, rate_hz)
    settings = load_settings(overrides=BENCH_PATIENT)
    display = open_display("headless", size=size)
    board, commands = StatusBoard(), CommandQueue()
    companion = Companion(board, commands, port=0)
    companion.start()
    secret, _info = companion.tokens.pair(companion.tokens.new_pairing_token(), "bench")
    live = LiveView(display.base, board, fps=live_fps, wanted=lambda: companion.watching > 0)
    render = display.base.graphicsEngine.render_frame
    period = 1.0 / rate_hz
    per_block = int(seconds * rate_hz / (2 * blocks))
    counts = {"images": 0, "statuses": 0}
    watchers: list[_Watchers] = []

    def next_block(loop: FrameLoop, _frame: object) -> None:
        """Every ``per_block`` frames the watchers leave, or come (odd blocks)."""
        if loop.frames % per_block:
            return
        if watchers:
            left = watchers.pop()
            left.__exit__()
            counts["images"] += left.images
            counts["statuses"] += left.statuses
        if (loop.frames // per_block) % 2 == 1 and loop.frames < 2 * blocks * per_block:
            watchers.append(_Watchers(companion.url, secret, clients))
            watchers[0].__enter__()

    try:
        engine = Engine(settings, ReplaySource(replay), display)
        render()
        display.win.set_active(False)       # only the live view's own small draws remain
        frames = BenchmarkFrames(display, replay.t[:2 * blocks * per_block], period,
                                 draw=lambda _i: live.capture_pending, paced=True)
        try:                                 # the draws that carry a capture are timed apart
            run_frames(frames, engine, _Published(engine, board, live), on_frame=next_block)
        finally:
            for left in watchers:
                left.__exit__()
        engine.close()
    finally:
        live.close()
        companion.stop()
        display.close()
    images, statuses, capture_ms = counts["images"], counts["statuses"], frames.draw_ms
    by_block = frames.frame_ms.reshape(2 * blocks, per_block)
    times = {False: by_block[0::2].ravel(), True: by_block[1::2].ravel()}
    without, with_ = np.array(times[False]), np.array(times[True])
    p99_without = float(np.percentile(without, 99))
    p99_with = float(np.percentile(with_, 99))
    watched_s = len(with_) / rate_hz
    return {"companion_clients": clients,
            "engine_frame_ms_p99_without_clients": round(p99_without, 4),
            "engine_frame_ms_p99_with_clients": round(p99_with, 4),
            "engine_frame_ms_median_without_clients": round(float(np.median(without)), 4),
            "engine_frame_ms_median_with_clients": round(float(np.median(with_)), 4),
            "companion_p99_ratio": round(p99_with / p99_without, 3),
            "companion_frames_per_condition": int(len(with_)),
            "companion_images_per_client_s": round(images / clients / watched_s, 2),
            "companion_status_per_client_s": round(statuses / clients / watched_s, 2),
            "live_view_capture_draw_ms_median": round(float(np.median(capture_ms)), 3)
            if capture_ms else None,
            "live_view_encode_ms_median": round(float(np.median(live.encode_ms)), 3)
            if live.encode_ms else None}
