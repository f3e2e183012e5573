"""The OpenXR instance, system and session (pyopenxr, through the real OpenXR loader).

:class:`XrSession` enables only extensions the runtime offers, finds the head-mounted system,
creates the session with the graphics binding it is given, and runs the session state
machine from the runtime's events: READY -> begin, SYNCHRONIZED/VISIBLE/FOCUSED -> ``focused``,
STOPPING -> end, LOSS_PENDING or instance loss -> ``lost`` (the app tears down and retries),
EXITING -> ``exiting``. Frame timing (wait/begin/end), view location and the application's
reference space (stage, recentred on request) live here too; the hot-path calls go through
pyopenxr's raw functions with structures allocated once. Docs: docs/openxr.md.
"""
from __future__ import annotations

import ctypes
import math
import os
from dataclasses import dataclass

from vrgmi.errors import VrgmiError

#: graphics kinds -> the instance extension the session binding needs
GRAPHICS_EXTENSIONS = {"opengl": "XR_KHR_opengl_enable", "egl": "XR_MNDX_egl_enable",
                       "headless": "XR_MND_headless"}
#: extensions vrgmi uses when the runtime offers them
WANTED_EXTENSIONS = ("XR_KHR_opengl_enable", "XR_MNDX_egl_enable", "XR_MND_headless",
                     "XR_EXT_hand_tracking", "XR_HTCX_vive_tracker_interaction",
                     "XR_EXT_hp_mixed_reality_controller", "XR_BD_controller_interaction")
#: a seated patient's eye height, for runtimes that offer neither stage nor local-floor space
SEATED_EYE_HEIGHT_M = 1.2
_LOST_RESULTS = ("ERROR_SESSION_LOST", "ERROR_INSTANCE_LOST", "ERROR_RUNTIME_FAILURE",
                 "ERROR_RUNTIME_UNAVAILABLE", "ERROR_HANDLE_INVALID")


class XrUnavailableError(VrgmiError, RuntimeError):
    """No OpenXR runtime, no headset, or a runtime that refuses vrgmi (one line)."""


class XrLostError(VrgmiError, RuntimeError):
    """The runtime or the session went away while running (one line)."""


def _xr():
    """pyopenxr, imported on first use (it loads the OpenXR loader library). The loader's
    own error log is off unless XR_LOADER_DEBUG asks for it: vrgmi says what failed in one
    line."""
    os.environ.setdefault("XR_LOADER_DEBUG", "none")
    import xr
    return xr


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def offered_extensions() -> dict[str, int]:
    """Extension name -> version, as the runtime (and enabled layers) offer them."""
    from vrgmi.doctor import openxr_manifest
    xr = _xr()
    if openxr_manifest() is None:
        raise XrUnavailableError("no OpenXR runtime is installed")
    try:
        props = xr.enumerate_instance_extension_properties()
    except xr.XrException as exc:
        raise XrUnavailableError(f"the OpenXR runtime did not answer ({_one_line(exc)})") \
            from None
    return {p.extension_name.decode(): int(p.extension_version) for p in props}


@dataclass(frozen=True)
class RuntimeInfo:
    """What a runtime says about itself (for `vrgmi doctor`)."""

    name: str
    version: str
    extensions: dict[str, int]
    system: str


def probe_runtime() -> RuntimeInfo:
    """Start an instance without a session: the runtime's name, version, extensions and the
    headset it sees (or "no headset connected")."""
    xr = _xr()
    offered = offered_extensions()
    instance, _minor = _create_instance(xr, [e for e in GRAPHICS_EXTENSIONS.values()
                                             if e in offered][:1], "vrgmi doctor")
    try:
        props = xr.get_instance_properties(instance)
        try:
            sys_id = xr.get_system(instance, xr.SystemGetInfo(
                form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
            system = xr.get_system_properties(instance, sys_id).system_name.decode()
        except xr.XrException:
            system = "no headset connected"
        return RuntimeInfo(props.runtime_name.decode(), str(props.runtime_version), offered,
                           system)
    finally:
        xr.destroy_instance(instance)


def _create_instance(xr, extensions: list[str], app_name: str):
    """An instance of OpenXR 1.1, or 1.0 where the runtime only has that; (instance, minor)."""
    last: Exception | None = None
    for minor in (1, 0):
        info = xr.InstanceCreateInfo(
            application_info=xr.ApplicationInfo(application_name=app_name, engine_name="vrgmi",
                                                api_version=xr.Version(1, minor, 0)),
            enabled_extension_names=extensions)
        try:
            return xr.create_instance(info), minor
        except xr.ApiVersionUnsupportedError as exc:
            last = exc
        except xr.XrException as exc:
            raise XrUnavailableError(f"the OpenXR runtime did not start ({_one_line(exc)})") \
                from None
    raise XrUnavailableError(f"the OpenXR runtime supports neither OpenXR 1.1 nor 1.0 "
                             f"({_one_line(last)})")


def yaw_pose(position: tuple[float, float, float], forward: tuple[float, float, float]
             ) -> tuple[tuple[float, float, float], tuple[float, float, float, float]]:
    """Stage-space pose at ``position`` (on the floor) turned about +Y so that its -Z axis
    points along ``forward`` projected on the floor: the recentred "forward"."""
    fx, fz = forward[0], forward[2]
    yaw = math.atan2(-fx, -fz) if fx * fx + fz * fz > 1e-12 else 0.0
    return ((position[0], 0.0, position[2]),
            (0.0, math.sin(yaw / 2), 0.0, math.cos(yaw / 2)))


class XrSession:
    """One OpenXR instance and session. Call order: ``XrSession(graphics)``, then
    ``graphics_requirements()`` for OpenGL, ``create(binding)``; per frame ``poll_events()``,
    and while ``running``: ``wait_frame``, ``begin_frame``, ``locate_views``, ``end_frame``;
    finally ``destroy()`` (safe after any failure)."""

    def __init__(self, graphics: str, app_name: str = "vrgmi") -> None:
        xr = self.xr = _xr()
        if graphics not in GRAPHICS_EXTENSIONS:
            raise ValueError(f"graphics must be one of {', '.join(GRAPHICS_EXTENSIONS)}")
        self.graphics = graphics
        offered = offered_extensions()
        need = GRAPHICS_EXTENSIONS[graphics]
        if need not in offered:
            raise XrUnavailableError(f"the OpenXR runtime does not offer {need}, which "
                                     f"{graphics} output needs")
        # only the binding's own graphics extension (and OpenGL's requirements call for EGL)
        graphics_ext = {need, "XR_KHR_opengl_enable"} if graphics != "headless" else {need}
        self.extensions = {e: offered[e] for e in WANTED_EXTENSIONS if e in offered and (
            e in graphics_ext or e not in GRAPHICS_EXTENSIONS.values())}
        self.instance, self.api_minor = _create_instance(xr, list(self.extensions), app_name)
        self.session = None
        self.base_space = self.app_space = self.view_space = None
        self.state = xr.SessionState.UNKNOWN
        self.running = self.focused = self.lost = self.exiting = False
        self.epoch_ns = 0
        self.clock_offset = 0.0          # display-clock seconds at epoch_ns (continuity on retry)
        try:
            props = xr.get_instance_properties(self.instance)
            self.runtime_name = props.runtime_name.decode()
            self.system_id = xr.get_system(self.instance, xr.SystemGetInfo(
                form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
            self.system_name = xr.get_system_properties(
                self.instance, self.system_id).system_name.decode()
            stereo = xr.ViewConfigurationType.PRIMARY_STEREO
            if stereo not in xr.enumerate_view_configurations(self.instance, self.system_id):
                raise XrUnavailableError(f"the headset of '{self.runtime_name}' has no "
                                         "stereo view")
            self.view_configs = xr.enumerate_view_configuration_views(
                self.instance, self.system_id, stereo)
        except xr.FormFactorUnavailableError:
            self.destroy()
            raise XrUnavailableError("the OpenXR runtime sees no headset: connect it (and "
                                     "start Link / SteamVR) and try again") from None
        except xr.XrException as exc:
            self.destroy()
            raise XrUnavailableError(f"the OpenXR runtime did not start ({_one_line(exc)})") \
                from None
        self._allocate()

    def _allocate(self) -> None:
        xr = self.xr
        self._frame_state = xr.FrameState()
        self._wait_info = xr.FrameWaitInfo()
        self._begin_info = xr.FrameBeginInfo()
        self._end_info = xr.FrameEndInfo(environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE)
        self._layer_ptrs = (ctypes.POINTER(xr.CompositionLayerBaseHeader) * 1)()
        self._views = (xr.View * 2)(xr.View(), xr.View())
        self._view_state = xr.ViewState()
        self._view_count = ctypes.c_uint32(0)
        self._view_info = xr.ViewLocateInfo(
            view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO)
        self._location = xr.SpaceLocation()
        self._event = xr.EventDataBuffer()

    # -- set-up -------------------------------------------------------------------------------
    def opengl_requirements(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(min, max) OpenGL (major, minor) the runtime accepts; OpenXR requires this call
        before a session with an OpenGL or EGL binding is created."""
        xr = self.xr
        if "XR_KHR_opengl_enable" not in self.extensions:
            return (3, 3), (4, 6)
        fn = ctypes.cast(xr.get_instance_proc_addr(self.instance,
                                                   "xrGetOpenGLGraphicsRequirementsKHR"),
                         xr.PFN_xrGetOpenGLGraphicsRequirementsKHR)
        req = xr.GraphicsRequirementsOpenGLKHR()
        self.check(fn(self.instance, self.system_id, ctypes.byref(req)),
                   "xrGetOpenGLGraphicsRequirementsKHR")
        lo, hi = req.min_api_version_supported, req.max_api_version_supported
        return (lo.major, lo.minor), (hi.major, hi.minor)

    def create(self, binding: ctypes.Structure | None) -> None:
        """Create the session (``binding`` chained in; None for a headless session) and the
        reference spaces: stage (else local-floor, else local lowered to the floor) and view."""
        xr = self.xr
        info = xr.SessionCreateInfo(system_id=self.system_id,
                                    next=binding)
        self._binding = binding                      # keep the chained structure alive
        try:
            self.session = xr.create_session(self.instance, info)
            spaces = set(xr.enumerate_reference_spaces(self.session))
            rst = xr.ReferenceSpaceType
            if rst.STAGE in spaces:
                kind, lift = rst.STAGE, 0.0
            elif rst.LOCAL_FLOOR in spaces and self.api_minor >= 1:
                kind, lift = rst.LOCAL_FLOOR, 0.0
            else:
                kind, lift = rst.LOCAL, -SEATED_EYE_HEIGHT_M
            self._base_kind = kind
            self.base_space = self._space(kind, (0.0, lift, 0.0), (0.0, 0.0, 0.0, 1.0))
            self.app_space = self.base_space
            self.view_space = self._space(rst.VIEW, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
        except xr.XrException as exc:
            self.destroy()
            raise XrUnavailableError(f"the OpenXR session could not start ({_one_line(exc)})") \
                from None

    def _space(self, kind, position, orientation):
        xr = self.xr
        pose = xr.Posef(orientation=xr.Quaternionf(*orientation), position=xr.Vector3f(*position))
        return xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
            reference_space_type=kind, pose_in_reference_space=pose))

    # -- events and the state machine ---------------------------------------------------------
    def poll_events(self) -> set[str]:
        """Drain the runtime's events and follow the session state machine. Returns the
        names of what happened that the app reacts to: ``"state"`` (a state change),
        ``"profile"`` (interaction profile changed), ``"space"`` (the runtime moved the
        stage). Sets ``lost`` on LOSS_PENDING / instance loss / a dead runtime."""
        xr = self.xr
        happened: set[str] = set()
        event = self._event
        st = xr.StructureType
        while True:
            event.type = st.EVENT_DATA_BUFFER
            res = xr.raw_functions.xrPollEvent(self.instance, ctypes.byref(event))
            if res.value < 0:
                self.lost = True
                return happened | {"state"}
            if res != xr.Result.SUCCESS:               # EVENT_UNAVAILABLE
                return happened
            kind = event.type
            if kind == st.EVENT_DATA_SESSION_STATE_CHANGED:
                changed = ctypes.cast(ctypes.byref(event), ctypes.POINTER(
                    xr.EventDataSessionStateChanged)).contents
                self._on_state(xr.SessionState(changed.state))
                happened.add("state")
            elif kind == st.EVENT_DATA_INSTANCE_LOSS_PENDING:
                self.lost = True
                happened.add("state")
            elif kind == st.EVENT_DATA_INTERACTION_PROFILE_CHANGED:
                happened.add("profile")
            elif kind == st.EVENT_DATA_REFERENCE_SPACE_CHANGE_PENDING:
                happened.add("space")

    def _on_state(self, state) -> None:
        xr = self.xr
        S = xr.SessionState
        self.state = state
        self.focused = state == S.FOCUSED
        if state == S.READY:
            xr.begin_session(self.session, xr.SessionBeginInfo(
                primary_view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO))
            self.running = True
        elif state == S.STOPPING:
            self.running = False
            xr.end_session(self.session)
        elif state == S.LOSS_PENDING:
            self.running = False
            self.lost = True
        elif state == S.EXITING:
            self.running = False
            self.exiting = True

    def request_exit(self) -> None:
        """Ask the runtime to stop the session (it answers STOPPING, then EXITING)."""
        if self.running:
            self.call("xrRequestExitSession", self.session)
        else:
            self.exiting = True

    # -- per frame ----------------------------------------------------------------------------
    def call(self, name: str, *args) -> None:
        """A raw pyopenxr function by its OpenXR name; an error result raises XrLostError."""
        res = getattr(self.xr.raw_functions, name)(*args)
        if res.value < 0:
            self.check(res.value, name)

    def check(self, code: int, name: str) -> None:
        """Raise XrLostError for an error result ``code`` of ``name`` (sets ``lost`` when the
        runtime or session is gone)."""
        if code >= 0:
            return
        try:
            result = self.xr.Result(code).name
        except ValueError:
            result = str(code)
        if result in _LOST_RESULTS:
            self.lost = True
            raise XrLostError(f"the OpenXR runtime stopped answering ({name}: {result})")
        raise XrLostError(f"{name} failed with {result}")

    def wait_frame(self):
        """xrWaitFrame: blocks until the runtime wants the next frame; returns the frame
        state (``predicted_display_time`` ns, ``predicted_display_period``,
        ``should_render``). The first frame fixes ``epoch_ns``, the display clock's zero."""
        state = self._frame_state
        self.call("xrWaitFrame", self.session, ctypes.byref(self._wait_info),
                  ctypes.byref(state))
        if not self.epoch_ns:
            self.epoch_ns = int(state.predicted_display_time)
        return state

    def begin_frame(self) -> None:
        """xrBeginFrame."""
        self.call("xrBeginFrame", self.session, ctypes.byref(self._begin_info))

    def end_frame(self, time_ns: int, layer: ctypes.Structure | None) -> None:
        """xrEndFrame at ``time_ns`` with one composition layer (or none)."""
        info = self._end_info
        info.display_time = time_ns
        if layer is None:
            info.layers = None                  # pyopenxr's setter: layer_count 0
        else:
            self._layer_ptrs[0] = ctypes.cast(ctypes.pointer(layer), ctypes.POINTER(
                self.xr.CompositionLayerBaseHeader))
            info.layers = self._layer_ptrs      # the one-element array: layer_count 1
        self.call("xrEndFrame", self.session, ctypes.byref(info))

    def locate_views(self, time_ns: int):
        """Both eyes' poses (application space) and fields of view at ``time_ns``;
        returns (views, valid) with valid True when position and orientation are valid."""
        self._view_info.display_time = time_ns
        self._view_info.space = self.app_space
        self.call("xrLocateViews", self.session, ctypes.byref(self._view_info),
                  ctypes.byref(self._view_state), 2, ctypes.byref(self._view_count),
                  self._views)
        return self._views, (int(self._view_state.view_state_flags) & 3) == 3

    def locate(self, space, time_ns: int, base=None):
        """xrLocateSpace of ``space`` in the application space (or ``base``); returns the
        (reused) SpaceLocation; valid when ``location_flags & 3 == 3``."""
        loc = self._location
        self.call("xrLocateSpace", space, base or self.app_space, time_ns, ctypes.byref(loc))
        return loc

    def to_seconds(self, time_ns: int) -> float:
        """An XrTime on the display clock (seconds since the session's first frame, plus
        ``clock_offset``)."""
        return (int(time_ns) - self.epoch_ns) * 1e-9 + self.clock_offset

    def to_xr_time(self, seconds: float) -> int:
        """The XrTime of a display-clock time (exact to the nanosecond for sessions shorter
        than ~100 days)."""
        return self.epoch_ns + round((seconds - self.clock_offset) * 1e9)

    def recenter(self, time_ns: int) -> bool:
        """Make where the head is now (on the floor) the origin and where it looks "forward"
        (stage yaw only); False when the head is not tracked at ``time_ns``."""
        loc = self.locate(self.view_space, time_ns, self.base_space)
        if (int(loc.location_flags) & 3) != 3:
            return False
        q, p = loc.pose.orientation, loc.pose.position
        # the head's -Z axis in the base space
        fx = -2.0 * (q.x * q.z + q.w * q.y)
        fz = -(1.0 - 2.0 * (q.x * q.x + q.y * q.y))
        position, orientation = yaw_pose((p.x, p.y, p.z), (fx, 0.0, fz))
        if self._base_kind == self.xr.ReferenceSpaceType.LOCAL:     # lowered to the floor
            position = (position[0], -SEATED_EYE_HEIGHT_M, position[2])
        new = self._space(self._base_kind, position, orientation)
        if self.app_space is not self.base_space:
            self.xr.destroy_space(self.app_space)
        self.app_space = new
        return True

    def destroy(self) -> None:
        """Destroy the session and the instance, ignoring errors from a dead runtime."""
        xr = self.xr
        for name, handle, fn in (("session", self.session, xr.destroy_session),
                                 ("instance", self.instance, xr.destroy_instance)):
            if handle is not None:
                try:
                    fn(handle)
                except xr.XrException:
                    pass
                setattr(self, name, None)
        self.base_space = self.app_space = self.view_space = None
        self.running = self.focused = False
