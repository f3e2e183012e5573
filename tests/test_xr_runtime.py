"""The scripted OpenXR test runtime (tests/xr_runtime), driven through pyopenxr's real loader
with the Khronos core validation layer on: every test fails on a validation error/warning."""
from __future__ import annotations

import ctypes
import json
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import xr

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # `pytest` without `python -m`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.xr_runtime.harness import build_runtime, xr_test_runtime  # noqa: E402

START = 1_000_000_000
HEADLESS = ["XR_MND_headless", "XR_EXT_hand_tracking", "XR_HTCX_vive_tracker_interaction"]
TOUCH = "/interaction_profiles/oculus/touch_controller"
INDEX = "/interaction_profiles/valve/index_controller"
TRACKER = "/interaction_profiles/htc/vive_tracker_htcx"
WAIST = "/user/vive_tracker_htcx/role/waist"
S = xr.SessionState


def assert_clean(runtime) -> None:
    bad = [m for m in runtime.validation_messages()
           if "VALID_ERROR" in m or "VALID_WARNING" in m]
    assert not bad, "\n".join(bad)


def raw(name: str, *args) -> xr.Result:
    """Calls a core function without pyopenxr's exception mapping: its XrResult."""
    return xr.Result(getattr(xr.raw_functions, name)(*args))


def ext_fn(instance, name: str):
    return ctypes.cast(xr.get_instance_proc_addr(instance, name), getattr(xr, f"PFN_{name}"))


def predicted(frame: int, rate: float = 90.0) -> int:
    return START + round(frame * 1e9 / rate)


def pose7(p: xr.Posef) -> np.ndarray:
    return np.array([p.position.x, p.position.y, p.position.z, p.orientation.x,
                     p.orientation.y, p.orientation.z, p.orientation.w])


def same_pose(a: np.ndarray, b: np.ndarray, tol: float = 1e-5) -> bool:
    """Equal positions and rotations (q and -q are the same rotation)."""
    return (np.allclose(a[:3], b[:3], atol=tol)
            and min(np.abs(a[3:] - b[3:]).max(), np.abs(a[3:] + b[3:]).max()) < tol)


def q_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    u, w = q[:3], q[3]
    t = 2 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def sample_index(t: np.ndarray, xr_time: int) -> int:
    """The replay sample held at xr_time: sample and hold, looping (the runtime's rule)."""
    rel = t - t[0]
    n = len(t)
    duration = rel[-1] * n / (n - 1)
    tau = ((xr_time - START) * 1e-9 + 1e-6) % duration
    return int(np.searchsorted(rel, tau, side="right") - 1)


def unit_quats(rng, shape) -> np.ndarray:
    q = rng.normal(size=(*shape, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def write_replay(path: Path, n: int = 40, rate: float = 30.0, compressed: bool = True) -> dict:
    """A stage-space replay with every channel; float32 and float64 mixed; some samples
    untracked. Returns the arrays as written."""
    rng = np.random.default_rng(7)

    def poses(*shape, y=1.0):
        pos = rng.uniform(-0.5, 0.5, (*shape, 3)) + [0, y, -0.3]
        return np.concatenate([pos, unit_quats(rng, shape)], axis=-1)

    left_valid = np.ones(n, bool)
    left_valid[5:9] = False
    hand_valid = np.ones(n, bool)
    hand_valid[20:23] = False
    arrays = {
        "t": 3.0 + np.arange(n) / rate,
        "head": poses(n, y=1.2).astype(np.float32),
        "left_grip": poses(n), "right_grip": poses(n),
        "left_valid": left_valid, "right_valid": np.ones(n, bool),
        "right_aim": poses(n),
        "left_trigger": rng.uniform(0, 1, n), "right_trigger": rng.uniform(0, 1, n),
        "right_squeeze": rng.uniform(0, 1, n).astype(np.float32),
        "left_hand_joints": poses(n, 26), "left_hand_valid": hand_valid,
        "tracker_waist": poses(n, y=0.9), "tracker_waist_valid": np.ones(n, bool),
    }
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return {k: np.asarray(v, np.float64) if v.dtype != bool else v
            for k, v in np.load(path).items()}


class App:
    """A minimal pyopenxr application: instance, system, headless or GL session, events."""

    def __init__(self, extensions, binding=None, minor=0):
        self.instance = xr.create_instance(xr.InstanceCreateInfo(
            application_info=xr.ApplicationInfo("vrgmi-test", 1, "vrgmi", 1,
                                                xr.Version(1, minor, 0)),
            enabled_extension_names=list(extensions)))
        self.system = xr.get_system(self.instance,
                                    xr.SystemGetInfo(xr.FormFactor.HEAD_MOUNTED_DISPLAY))
        self.binding = binding
        self.session = None
        self.states: list[xr.SessionState] = []
        self.types: list[xr.StructureType] = []  # of every event polled
        self.events: list = []  # lossTime of each XrEventDataInstanceLossPending

    def path(self, s: str):
        return xr.string_to_path(self.instance, s)

    def create_session(self):
        if self.binding is not None:
            fn = ext_fn(self.instance, "xrGetOpenGLGraphicsRequirementsKHR")
            req = xr.GraphicsRequirementsOpenGLKHR()
            assert fn(self.instance, self.system, ctypes.byref(req)) == 0
        self.session = xr.create_session(self.instance, xr.SessionCreateInfo(
            system_id=self.system, next=self.binding))
        return self.session

    def poll(self) -> list:
        """Drains the event queue; records session states; returns the events' types."""
        got = []
        while True:
            try:
                ev = xr.poll_event(self.instance)
            except xr.EventUnavailable:
                return got
            kind = xr.StructureType(ev.type)
            got.append(kind)
            self.types.append(kind)
            if kind == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                self.states.append(S(ctypes.cast(ctypes.byref(ev), ctypes.POINTER(
                    xr.EventDataSessionStateChanged)).contents.state))
            elif kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
                self.events.append(ctypes.cast(ctypes.byref(ev), ctypes.POINTER(
                    xr.EventDataInstanceLossPending)).contents.loss_time)

    def begin(self):
        self.poll()
        assert self.states[-2:] == [S.IDLE, S.READY]
        xr.begin_session(self.session,
                         xr.SessionBeginInfo(xr.ViewConfigurationType.PRIMARY_STEREO))

    def frame(self, layers=()) -> xr.FrameState:
        state = xr.wait_frame(self.session)
        xr.begin_frame(self.session)
        xr.end_frame(self.session, xr.FrameEndInfo(state.predicted_display_time,
                                                   xr.EnvironmentBlendMode.OPAQUE,
                                                   layers=list(layers)))
        self.poll()
        return state

    def space(self, kind=xr.ReferenceSpaceType.STAGE):
        return xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
            reference_space_type=kind, pose_in_reference_space=xr.Posef()))

    def close(self):
        if self.session is not None:
            xr.destroy_session(self.session)
        xr.destroy_instance(self.instance)


@contextmanager
def app(extensions=HEADLESS, binding=None, minor=0):
    a = App(extensions, binding, minor)
    try:
        yield a
    finally:
        a.close()


class Actions:
    """One action set with the engine's kind of actions, bound for Touch and trackers."""

    def __init__(self, a: App, profiles=(TOUCH,)):
        self.app = a
        self.left, self.right, self.waist = a.path("/user/hand/left"), a.path(
            "/user/hand/right"), a.path(WAIST)
        hands = [self.left, self.right]
        self.set = xr.create_action_set(a.instance, xr.ActionSetCreateInfo(
            action_set_name="gmi", localized_action_set_name="GMI", priority=0))

        def action(name, kind, subs):
            return xr.create_action(self.set, xr.ActionCreateInfo(
                action_type=kind, action_name=name, localized_action_name=name.title(),
                subaction_paths=subs))

        T = xr.ActionType
        self.grip = action("grip", T.POSE_INPUT, hands)
        self.aim = action("aim", T.POSE_INPUT, hands)
        self.trigger = action("trigger", T.FLOAT_INPUT, hands)
        self.squeeze = action("squeeze", T.FLOAT_INPUT, hands)
        self.stick = action("stick", T.VECTOR2F_INPUT, hands)
        self.x_click = action("x_click", T.BOOLEAN_INPUT, [])
        self.feet = [a.path(f"/user/vive_tracker_htcx/role/{s}_foot") for s in ("left", "right")]
        self.tracker = action("tracker", T.POSE_INPUT, [self.waist, *self.feet])
        for profile in profiles:
            b = [(self.x_click, "/user/hand/left/input/x/click")] if profile == TOUCH else []
            for side in ("left", "right"):
                u = f"/user/hand/{side}/input"
                b += [(self.grip, f"{u}/grip/pose"), (self.aim, f"{u}/aim/pose"),
                      (self.trigger, f"{u}/trigger/value"),
                      (self.squeeze, f"{u}/squeeze/value"), (self.stick, f"{u}/thumbstick")]
            self.suggest(profile, b)
        self.suggest(TRACKER, [(self.tracker, f"/user/vive_tracker_htcx/role/{r}/input/grip/pose")
                               for r in ("waist", "left_foot", "right_foot")])

    def suggest(self, profile, bindings):
        xr.suggest_interaction_profile_bindings(self.app.instance,
                                                xr.InteractionProfileSuggestedBinding(
            interaction_profile=self.app.path(profile),
            suggested_bindings=[xr.ActionSuggestedBinding(act, self.app.path(p))
                                for act, p in bindings]))

    def attach(self):
        xr.attach_session_action_sets(self.app.session,
                                      xr.SessionActionSetsAttachInfo(action_sets=[self.set]))

    def sync(self) -> xr.Result:
        info = xr.ActionsSyncInfo(active_action_sets=[xr.ActiveActionSet(self.set,
                                                                          xr.NULL_PATH)])
        return raw("xrSyncActions", self.app.session, ctypes.byref(info))

    def state(self, kind, action, sub=xr.NULL_PATH):
        return getattr(xr, f"get_action_state_{kind}")(
            self.app.session, xr.ActionStateGetInfo(action, sub))

    def space(self, action, sub):
        return xr.create_action_space(self.app.session, xr.ActionSpaceCreateInfo(
            action=action, subaction_path=sub, pose_in_action_space=xr.Posef()))


def run_until_focused(a: App, actions: Actions | None = None, limit: int = 10) -> int:
    """Runs frames until FOCUSED; returns the number of frames run."""
    for i in range(limit):
        a.frame()
        if actions is not None:
            actions.sync()
        if a.states[-1] == S.FOCUSED:
            return i + 1
    raise AssertionError(f"not focused after {limit} frames: {a.states}")


# ---- build and instance ----------------------------------------------------------------

def test_builds_without_warnings_and_writes_a_manifest():
    manifest = build_runtime()
    assert build_runtime() == manifest  # cached
    data = json.loads(manifest.read_text())
    assert data["file_format_version"] == "1.0.0"
    lib = Path(data["runtime"]["library_path"])
    assert lib.is_absolute() and lib.exists()
    assert (manifest.parent / "build.log").read_text() == ""


def test_instance_properties_extensions_paths_and_strings():
    with xr_test_runtime() as runtime:
        names = {e.extension_name.decode() for e in xr.enumerate_instance_extension_properties()}
        assert {"XR_KHR_opengl_enable", "XR_MNDX_egl_enable", "XR_MND_headless",
                "XR_EXT_hand_tracking", "XR_HTCX_vive_tracker_interaction",
                "XR_KHR_convert_timespec_time", "XR_EXT_hp_mixed_reality_controller",
                "XR_BD_controller_interaction"} <= names  # (+ the layer's debug_utils)
        with app() as a:
            props = xr.get_instance_properties(a.instance)
            assert props.runtime_name.decode() == "vrgmi test runtime"
            p = a.path("/user/hand/left/input/trigger/value")
            assert xr.path_to_string(a.instance, p) == "/user/hand/left/input/trigger/value"
            assert a.path("/user/hand/left/input/trigger/value").value == p.value
            with pytest.raises(xr.PathFormatInvalidError):
                a.path("/user/Hand//left")
            buf = ctypes.create_string_buffer(64)
            assert raw("xrResultToString", a.instance, xr.Result.ERROR_SESSION_LOST, buf) == 0
            assert buf.value == b"XR_ERROR_SESSION_LOST"
            sysprops = xr.get_system_properties(a.instance, a.system)
            assert sysprops.graphics_properties.max_layer_count == 16
            views = xr.enumerate_view_configuration_views(
                a.instance, a.system, xr.ViewConfigurationType.PRIMARY_STEREO)
            assert [(v.recommended_image_rect_width, v.recommended_image_rect_height)
                    for v in views] == [(256, 256)] * 2
        assert runtime.call_count("xrCreateInstance") == 1
        assert_clean(runtime)


def test_restricted_extension_set_and_view_size():
    with xr_test_runtime(extensions=["XR_MND_headless"], view_size=(320, 200)) as runtime:
        names = {e.extension_name.decode() for e in xr.enumerate_instance_extension_properties()}
        assert "XR_MND_headless" in names
        assert not names & {"XR_EXT_hand_tracking", "XR_HTCX_vive_tracker_interaction",
                            "XR_KHR_opengl_enable"}
        with pytest.raises(xr.ExtensionNotPresentError):
            xr.create_instance(xr.InstanceCreateInfo(
                enabled_extension_names=["XR_MND_headless", "XR_EXT_hand_tracking"]))
        with app(["XR_MND_headless"]) as a:
            views = xr.enumerate_view_configuration_views(
                a.instance, a.system, xr.ViewConfigurationType.PRIMARY_STEREO)
            assert views[0].recommended_image_rect_width == 320
            assert views[0].recommended_image_rect_height == 200
        assert_clean(runtime)


def test_a_malformed_replay_fails_instance_creation(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, t=np.arange(3.0), head=np.zeros((3, 6)))
    with xr_test_runtime(replay=bad) as runtime:
        with pytest.raises(xr.InitializationFailedError):
            xr.create_instance(xr.InstanceCreateInfo(enabled_extension_names=HEADLESS))
        assert "'head'" in runtime.last_error()
        bad.write_bytes(b"not a zip")
        with pytest.raises(xr.InitializationFailedError):
            xr.create_instance(xr.InstanceCreateInfo(enabled_extension_names=HEADLESS))
        assert "not a zip" in runtime.last_error()


# ---- a headless session playing a replay -----------------------------------------------

@pytest.mark.parametrize("compressed", [True, False])
def test_headless_session_plays_the_replay(tmp_path, compressed):
    rep = write_replay(tmp_path / "r.npz", compressed=compressed)
    with xr_test_runtime(replay=tmp_path / "r.npz") as runtime, app() as a:
        hand_props = xr.SystemHandTrackingPropertiesEXT()
        props = xr.SystemProperties(next=hand_props)
        assert raw("xrGetSystemProperties", a.instance, a.system, ctypes.byref(props)) == 0
        assert hand_props.supports_hand_tracking
        actions = Actions(a)
        a.create_session()
        actions.attach()
        stage, view = a.space(), a.space(xr.ReferenceSpaceType.VIEW)
        local = a.space(xr.ReferenceSpaceType.LOCAL)
        grips = [actions.space(actions.grip, s) for s in (actions.left, actions.right)]
        aim_right = actions.space(actions.aim, actions.right)
        waist = actions.space(actions.tracker, actions.waist)
        tracker = ext_fn(a.instance, "xrCreateHandTrackerEXT")
        left_hand = xr.HandTrackerEXT()
        assert tracker(a.session, ctypes.byref(xr.HandTrackerCreateInfoEXT(
            hand=xr.HandEXT.LEFT)), ctypes.byref(left_hand)) == 0
        a.begin()
        assert xr.StructureType.EVENT_DATA_INTERACTION_PROFILE_CHANGED in a.types
        assert a.states == [S.IDLE, S.READY]
        assert xr.get_current_interaction_profile(a.session, actions.left).interaction_profile \
            == a.path(TOUCH).value
        assert xr.get_current_interaction_profile(a.session, actions.waist) \
            .interaction_profile == a.path(TRACKER).value
        warmup = run_until_focused(a, actions)
        assert a.states == [S.IDLE, S.READY, S.SYNCHRONIZED, S.VISIBLE, S.FOCUSED]
        joints = (xr.HandJointLocationEXT * 26)()
        locate_joints = ext_fn(a.instance, "xrLocateHandJointsEXT")
        seen_invalid_left = seen_inactive_hand = False
        for k in range(warmup, warmup + 60):
            state = xr.wait_frame(a.session)
            assert state.predicted_display_time == predicted(k)
            assert state.predicted_display_period == round(1e9 / 90)
            assert state.should_render
            xr.begin_frame(a.session)
            assert actions.sync() == xr.Result.SUCCESS
            t = state.predicted_display_time
            i = sample_index(rep["t"], t)
            assert same_pose(pose7(xr.locate_space(view, stage, t).pose), rep["head"][i])
            assert same_pose(runtime.head_pose_at(t), rep["head"][i])
            assert same_pose(pose7(xr.locate_space(view, local, t).pose), rep["head"][i])
            for side, space in zip(("left", "right"), grips):
                loc = xr.locate_space(space, stage, t)
                tracked = bool(loc.location_flags & xr.SpaceLocationFlags.POSITION_TRACKED_BIT)
                assert tracked == bool(rep[f"{side}_valid"][i])
                if tracked:
                    assert same_pose(pose7(loc.pose), rep[f"{side}_grip"][i])
                seen_invalid_left |= side == "left" and not tracked
            assert same_pose(pose7(xr.locate_space(aim_right, stage, t).pose),
                             rep["right_aim"][i])
            assert same_pose(pose7(xr.locate_space(waist, stage, t).pose),
                             rep["tracker_waist"][i])
            # a grip relative to the head: head^-1 * grip
            rel = pose7(xr.locate_space(grips[1], view, t).pose)
            head, grip = rep["head"][i], rep["right_grip"][i]
            qc = head[3:] * [-1, -1, -1, 1]
            assert np.allclose(rel[:3], q_rotate(qc, grip[:3] - head[:3]), atol=1e-5)
            trig = actions.state("float", actions.trigger, actions.right)
            assert trig.is_active and trig.current_state == pytest.approx(
                rep["right_trigger"][i], abs=1e-6)
            sq = actions.state("float", actions.squeeze, actions.left)
            assert sq.is_active and sq.current_state == 0.0  # no left_squeeze in the replay
            locs = xr.HandJointLocationsEXT(joint_count=26, joint_locations=joints)
            assert locate_joints(left_hand, ctypes.byref(xr.HandJointsLocateInfoEXT(
                base_space=stage, time=t)), ctypes.byref(locs)) == 0
            assert bool(locs.is_active) == bool(rep["left_hand_valid"][i])
            seen_inactive_hand |= not locs.is_active
            if locs.is_active:
                for j in (0, 1, 9, 25):
                    assert same_pose(pose7(joints[j].pose), rep["left_hand_joints"][i, j])
            xr.end_frame(a.session, xr.FrameEndInfo(t, xr.EnvironmentBlendMode.OPAQUE))
            a.poll()
        assert seen_invalid_left and seen_inactive_hand
        log = runtime.frame_log()
        assert len(log) == warmup + 60
        assert (log["frame"] == np.arange(len(log))).all()
        assert (log["predicted_ns"] == [predicted(k) for k in range(len(log))]).all()
        assert (log["display_ns"] == log["predicted_ns"]).all()
        assert np.isnan(log["left_pose"]).all()  # headless: no projection layer
        xr.request_exit_session(a.session)
        a.poll()
        assert a.states[-4:] == [S.FOCUSED, S.VISIBLE, S.SYNCHRONIZED, S.STOPPING]
        xr.end_session(a.session)
        a.poll()
        assert a.states[-2:] == [S.IDLE, S.EXITING]
        ext_fn(a.instance, "xrDestroyHandTrackerEXT")(left_hand)
    assert_clean(runtime)


def test_tracker_paths_and_no_replay_still_pose():
    with xr_test_runtime() as runtime, app() as a:
        count = ctypes.c_uint32()
        enum = ext_fn(a.instance, "xrEnumerateViveTrackerPathsHTCX")
        assert enum(a.instance, 0, ctypes.byref(count), None) == 0
        assert count.value == 0  # no replay: no trackers
        a.create_session()
        stage, view = a.space(), a.space(xr.ReferenceSpaceType.VIEW)
        a.begin()
        state = a.frame()
        loc = xr.locate_space(view, stage, state.predicted_display_time)
        assert same_pose(pose7(loc.pose), np.array([0, 1.2, 0, 0, 0, 0, 1.0]))
        views = xr.locate_views(a.session, xr.ViewLocateInfo(
            xr.ViewConfigurationType.PRIMARY_STEREO, state.predicted_display_time, stage))[1]
        assert np.allclose(pose7(views[0].pose)[:3], [-0.032, 1.2, 0])
        assert np.allclose(pose7(views[1].pose)[:3], [0.032, 1.2, 0])
        assert views[0].fov.angle_left == pytest.approx(-0.90)
        assert views[1].fov.angle_right == pytest.approx(0.90)
    assert_clean(runtime)


def test_tracker_paths_from_the_replay(tmp_path):
    write_replay(tmp_path / "r.npz")
    with xr_test_runtime(replay=tmp_path / "r.npz") as runtime, app() as a:
        a.create_session()
        types = a.poll()
        assert xr.StructureType.EVENT_DATA_VIVE_TRACKER_CONNECTED_HTCX in types
        enum = ext_fn(a.instance, "xrEnumerateViveTrackerPathsHTCX")
        count = ctypes.c_uint32()
        assert enum(a.instance, 0, ctypes.byref(count), None) == 0
        paths = (xr.ViveTrackerPathsHTCX * count.value)(
            *[xr.ViveTrackerPathsHTCX() for _ in range(count.value)])
        assert enum(a.instance, count, ctypes.byref(count), paths) == 0
        assert [xr.path_to_string(a.instance, p.role_path) for p in paths] == [WAIST]
    assert_clean(runtime)


@pytest.mark.parametrize("motion,side", [("fist_open", "left"), ("foot_tap", "right")])
def test_plays_a_replay_saved_by_vrgmi(tmp_path, motion, side):
    from vrgmi.tracking.replay import save_replay
    from vrgmi.tracking.scripted import make_scripted_replay

    path = save_replay(tmp_path / "s.npz", make_scripted_replay(motion, 1.0, 90.0, side))
    rep = dict(np.load(path))
    with xr_test_runtime(replay=path) as runtime, app() as a:
        actions = Actions(a)
        a.create_session()
        actions.attach()
        stage = a.space()
        grip = actions.space(actions.grip, a.path(f"/user/hand/{side}"))
        foot = actions.space(actions.tracker, actions.feet[side == "right"])
        a.begin()
        run_until_focused(a, actions)
        for _ in range(100):  # past the end: the replay loops
            state = a.frame()
            actions.sync()
            t = state.predicted_display_time
            i = sample_index(rep["t"], t)
            assert same_pose(runtime.head_pose_at(t), rep["head"][i])
            loc = xr.locate_space(grip, stage, t)
            assert bool(loc.location_flags) == bool(rep[f"{side}_valid"][i])
            if loc.location_flags:
                assert same_pose(pose7(loc.pose), rep[f"{side}_grip"][i])
                trig = actions.state("float", actions.trigger, a.path(f"/user/hand/{side}"))
                assert trig.current_state == pytest.approx(rep[f"{side}_trigger"][i], abs=1e-6)
            loc = xr.locate_space(foot, stage, t)
            assert bool(loc.location_flags) == (motion == "foot_tap")
            if loc.location_flags:
                assert same_pose(pose7(loc.pose), rep[f"tracker_{side}_foot"][i])
    assert_clean(runtime)


def test_validation_errors_are_collected():
    with xr_test_runtime() as runtime, app() as a:
        wrong = xr.SystemProperties(type=xr.StructureType.VIEW)  # the wrong structure type
        assert raw("xrGetSystemProperties", a.instance, a.system, ctypes.byref(wrong)) == \
            xr.Result.ERROR_VALIDATION_FAILURE
    assert any("VALID_ERROR" in m and "xrGetSystemProperties" in m
               for m in runtime.validation_messages())


class Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def test_realtime_pacing_and_timespec_conversion(monkeypatch):
    import time

    monkeypatch.setenv("VRGMI_XRT_REALTIME", "1")  # read when the instance is created
    with xr_test_runtime(rate_hz=60.0) as runtime, \
            app([*HEADLESS, "XR_KHR_convert_timespec_time"]) as a:
        a.create_session()
        a.begin()
        start = time.monotonic()
        for k in range(13):
            assert a.frame().predicted_display_time == predicted(k, 60.0)
        assert time.monotonic() - start >= 10 / 60.0  # paced from instance creation
        fn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int64,
                              ctypes.POINTER(Timespec))
        to_ts = ctypes.cast(xr.get_instance_proc_addr(a.instance,
                                                      "xrConvertTimeToTimespecTimeKHR"), fn)
        ts = Timespec()
        assert to_ts(ctypes.cast(a.instance, ctypes.c_void_p), predicted(12, 60.0),
                     ctypes.byref(ts)) == 0
        # frame 12 is shown one period after it was waited on, on CLOCK_MONOTONIC
        assert ts.tv_sec + ts.tv_nsec * 1e-9 == pytest.approx(time.monotonic(), abs=0.1)
    assert_clean(runtime)


# ---- the event script --------------------------------------------------------------------

def test_script_input_sets_action_state_and_change_time():
    script = """# thumbstick pushed right at frame 30, released at 33; X pressed at 40
30 input /user/hand/right/input/thumbstick/x 1.0
33 input /user/hand/right/input/thumbstick/x 0.0
40 input /user/hand/left/input/x/click 1
"""
    with xr_test_runtime(events=script) as runtime, app() as a:
        actions = Actions(a)
        a.create_session()
        actions.attach()
        a.begin()
        for k in range(45):
            state = a.frame()
            assert state.predicted_display_time == predicted(k)
            actions.sync()
            stick = actions.state("vector2f", actions.stick, actions.right)
            click = actions.state("boolean", actions.x_click)
            if k < 2:
                continue  # not focused yet: inactive
            assert stick.is_active and click.is_active
            assert stick.current_state.x == (1.0 if 30 <= k < 33 else 0.0)
            assert bool(stick.changed_since_last_sync) == (k in (30, 33))
            if k >= 30:
                assert stick.last_change_time == predicted(30 if k < 33 else 33)
            assert bool(click.current_state) == (k >= 40)
            if k == 40:
                assert click.changed_since_last_sync and click.last_change_time == predicted(40)
        left_stick = actions.state("vector2f", actions.stick, actions.left)
        assert left_stick.current_state.x == 0.0
    assert_clean(runtime)


def test_focus_loss_and_runtime_exit():
    script = "10 state VISIBLE\n20 state FOCUSED\n30 exit\n"
    with xr_test_runtime(events=script) as runtime, app() as a:
        actions = Actions(a)
        a.create_session()
        actions.attach()
        a.begin()
        for k in range(35):
            state = a.frame()
            result = actions.sync()
            now = a.states[-1]
            if 3 <= k < 10 or 21 <= k < 30:
                assert now == S.FOCUSED and result == xr.Result.SUCCESS
                assert actions.state("float", actions.trigger, actions.right).is_active
            if 10 <= k < 20:
                assert now == S.VISIBLE and result == xr.Result.SESSION_NOT_FOCUSED
                assert state.should_render
                assert not actions.state("float", actions.trigger, actions.right).is_active
            if k >= 30:
                assert now == S.STOPPING and not state.should_render
        assert a.states == [S.IDLE, S.READY, S.SYNCHRONIZED, S.VISIBLE, S.FOCUSED, S.VISIBLE,
                            S.FOCUSED, S.VISIBLE, S.SYNCHRONIZED, S.STOPPING]
        xr.end_session(a.session)
        a.poll()
        assert a.states[-2:] == [S.IDLE, S.EXITING]
    assert_clean(runtime)


def test_session_loss_then_a_new_session():
    with xr_test_runtime(events="5 loss_pending\n") as runtime:
        with app() as a:
            a.create_session()
            a.begin()
            for _ in range(5):
                a.frame()
            state = xr.FrameState()
            assert raw("xrWaitFrame", a.session, None, ctypes.byref(state)) == \
                xr.Result.SESSION_LOSS_PENDING
            a.poll()
            assert a.states[-1] == S.LOSS_PENDING
            assert raw("xrBeginFrame", a.session, None) == xr.Result.SESSION_LOSS_PENDING
            assert raw("xrWaitFrame", a.session, None, ctypes.byref(state)) == \
                xr.Result.ERROR_SESSION_LOST
            assert raw("xrBeginFrame", a.session, None) == xr.Result.ERROR_SESSION_LOST
            xr.destroy_session(a.session)
            a.session = None
            a.states.clear()
            a.create_session()  # the application may try again
            a.begin()
            run_until_focused(a)
        with app() as b:  # or reconnect: the run's frames (and XrTime) go on, no new loss
            b.create_session()
            b.begin()
            for _ in range(10):
                frame = runtime.frame_count()
                assert b.frame().predicted_display_time == predicted(frame)
            assert S.LOSS_PENDING not in b.states and frame > 15
    assert_clean(runtime)


def test_instance_loss():
    with xr_test_runtime(events="5 instance_loss\n") as runtime, app() as a:
        a.create_session()
        a.begin()
        for _ in range(6):
            a.frame()
        assert a.events == [predicted(6)]  # XrEventDataInstanceLossPending.lossTime
        state = xr.FrameState()
        assert raw("xrWaitFrame", a.session, None, ctypes.byref(state)) == \
            xr.Result.ERROR_INSTANCE_LOST
        with pytest.raises(xr.InstanceLostError):
            a.path("/user/hand/left")
        with pytest.raises(xr.InstanceLostError):
            xr.poll_event(a.instance)
    assert_clean(runtime)


HP = "/interaction_profiles/hp/mixed_reality_controller"
PICO = "/interaction_profiles/bytedance/pico4_controller"
HP_EXT, BD_EXT = "XR_EXT_hp_mixed_reality_controller", "XR_BD_controller_interaction"


def suggest_grips(a: App, profile: str, pose: str = "grip/pose") -> Actions:
    actions = Actions(a, profiles=())
    actions.suggest(profile, [(actions.grip, f"/user/hand/{s}/input/{pose}")
                              for s in ("left", "right")])
    return actions


@pytest.mark.parametrize("profile, ext", [(HP, HP_EXT), (PICO, BD_EXT)])
def test_hp_and_pico_profiles_need_their_extension_on_1_0(profile, ext):
    with xr_test_runtime(profile=profile, api_version="1.0") as runtime:
        with pytest.raises(xr.ApiVersionUnsupportedError):  # 1.1 refused: the 1.0 runtime
            App(HEADLESS, minor=1)
        with app() as a:
            with pytest.raises(xr.PathUnsupportedError):
                suggest_grips(a, profile)
        with app([*HEADLESS, ext]) as a:
            actions = suggest_grips(a, profile)
            with pytest.raises(xr.PathUnsupportedError):  # OpenXR 1.1 only
                actions.suggest(profile, [(actions.grip, "/user/hand/left/input/grip_surface"
                                                         "/pose")])
            with pytest.raises(xr.PathUnsupportedError):  # the left hand has no A button
                actions.suggest(profile, [(actions.x_click, "/user/hand/left/input/a/click")])
            a.create_session()
            actions.attach()
            a.begin()
            run_until_focused(a, actions)
            assert xr.get_current_interaction_profile(a.session, actions.right) \
                .interaction_profile == a.path(profile).value
            assert actions.state("pose", actions.grip, actions.right).is_active
            assert xr.ReferenceSpaceType.LOCAL_FLOOR not in xr.enumerate_reference_spaces(
                a.session)
            with pytest.raises(xr.FunctionUnsupportedError):
                xr.get_instance_proc_addr(a.instance, "xrLocateSpaces")
    assert_clean(runtime)


def test_openxr_1_1_core_profiles_local_floor_locate_spaces_and_grip_surface(tmp_path):
    rep = write_replay(tmp_path / "r.npz")
    with xr_test_runtime(replay=tmp_path / "r.npz", profile=PICO) as runtime, \
            app(minor=1) as a:
        actions = suggest_grips(a, PICO, "grip_surface/pose")  # core in 1.1: no extension
        actions.suggest(HP, [(actions.grip, "/user/hand/right/input/grip/pose")])
        a.create_session()
        actions.attach()
        a.begin()
        run_until_focused(a, actions)
        kinds = xr.enumerate_reference_spaces(a.session)
        assert xr.ReferenceSpaceType.LOCAL_FLOOR in kinds
        floor, stage = a.space(xr.ReferenceSpaceType.LOCAL_FLOOR), a.space()
        grip, view = actions.space(actions.grip, actions.right), a.space(
            xr.ReferenceSpaceType.VIEW)
        t = predicted(runtime.frame_count() - 1)
        data = (xr.SpaceLocationData * 2)()
        out = xr.SpaceLocations(location_count=2, locations=data)
        info = xr.SpacesLocateInfo(base_space=floor, time=t,
                                   spaces=(xr.Space * 2)(grip, view), space_count=2)
        assert raw("xrLocateSpaces", a.session, ctypes.byref(info), ctypes.byref(out)) == 0
        i = sample_index(rep["t"], t)
        for k, (space, want) in enumerate(((grip, rep["right_grip"][i]),
                                           (view, rep["head"][i]))):
            assert int(data[k].location_flags) == 0xF
            assert same_pose(pose7(data[k].pose), want)
            one = xr.locate_space(space, stage, t)  # LOCAL_FLOOR is the stage here
            assert same_pose(pose7(one.pose), pose7(data[k].pose))
    assert_clean(runtime)


def test_a_vanished_runtime_refuses_new_instances_until_the_context_ends():
    with xr_test_runtime(events="3 vanish\n") as runtime:
        with app() as a:
            a.create_session()
            a.begin()
            for _ in range(3):
                a.frame()
            state = xr.FrameState()
            assert raw("xrWaitFrame", a.session, None, ctypes.byref(state)) == \
                xr.Result.ERROR_RUNTIME_FAILURE
        with pytest.raises(xr.XrException):   # the retry a lost instance calls for fails
            App(HEADLESS)
        with pytest.raises(xr.XrException):
            xr.enumerate_instance_extension_properties()
        assert runtime.call_count("xrCreateInstance") == 1
    assert_clean(runtime)


def test_head_poses_stay_readable_after_the_application_shut_down(tmp_path):
    rep = write_replay(tmp_path / "r.npz")
    with xr_test_runtime(replay=tmp_path / "r.npz") as runtime:
        with app() as a:
            a.create_session()
            a.begin()
            times = [int(a.frame().predicted_display_time) for _ in range(6)]
        for t in times:
            assert same_pose(runtime.head_pose_at(t), rep["head"][sample_index(rep["t"], t)])
    assert_clean(runtime)


def test_vanishing_runtime():
    with xr_test_runtime(events="5 vanish\n") as runtime, app() as a:
        a.create_session()
        a.begin()
        for _ in range(5):
            a.frame()
        state = xr.FrameState()
        assert raw("xrWaitFrame", a.session, None, ctypes.byref(state)) == \
            xr.Result.ERROR_RUNTIME_FAILURE
        with pytest.raises(xr.RuntimeFailureError):
            xr.poll_event(a.instance)
        assert runtime.call_count("xrWaitFrame") == 6
    with pytest.raises(xr.XrException):  # gone for the rest of the run
        xr.create_instance(xr.InstanceCreateInfo(enabled_extension_names=HEADLESS))
    assert_clean(runtime)
    with xr_test_runtime() as runtime, app() as a:  # a new run
        a.create_session()
    assert_clean(runtime)


def test_injected_profile_change():
    with xr_test_runtime() as runtime, app() as a:
        actions = Actions(a)  # Touch bindings only
        a.create_session()
        actions.attach()
        a.begin()
        run_until_focused(a, actions)
        assert actions.state("pose", actions.grip, actions.left).is_active
        with pytest.raises(ValueError):
            runtime.inject("profile")
        a.types.clear()
        runtime.inject("profile " + INDEX)
        a.frame()
        assert a.types == [xr.StructureType.EVENT_DATA_INTERACTION_PROFILE_CHANGED]
        actions.sync()
        assert not actions.state("pose", actions.grip, actions.left).is_active
        assert xr.get_current_interaction_profile(a.session, actions.left) \
            .interaction_profile == xr.NULL_PATH
    assert_clean(runtime)


def test_bindings_follow_the_profile_env():
    with xr_test_runtime(profile=INDEX) as runtime, app() as a:
        actions = Actions(a, profiles=(TOUCH, INDEX))
        with pytest.raises(xr.PathUnsupportedError):  # Index has no X button
            actions.suggest(INDEX, [(actions.x_click, "/user/hand/left/input/x/click")])
        a.create_session()
        actions.attach()
        a.begin()
        run_until_focused(a, actions)
        assert xr.get_current_interaction_profile(a.session, actions.right) \
            .interaction_profile == a.path(INDEX).value
        assert actions.state("float", actions.trigger, actions.right).is_active
        assert not actions.state("boolean", actions.x_click).is_active  # Touch-only binding
        sources = xr.enumerate_bound_sources_for_action(
            a.session, xr.BoundSourcesForActionEnumerateInfo(action=actions.grip))
        assert sorted(xr.path_to_string(a.instance, p) for p in sources) == [
            "/user/hand/left/input/grip/pose", "/user/hand/right/input/grip/pose"]
    assert_clean(runtime)


def test_out_of_order_calls_are_refused():
    with xr_test_runtime(validation=False), app() as a:
        a.create_session()
        begin = xr.SessionBeginInfo(xr.ViewConfigurationType.PRIMARY_STEREO)
        state = xr.FrameState()
        assert raw("xrWaitFrame", a.session, None, ctypes.byref(state)) == \
            xr.Result.ERROR_SESSION_NOT_RUNNING
        assert raw("xrEndSession", a.session) == xr.Result.ERROR_SESSION_NOT_RUNNING
        a.begin()
        assert raw("xrBeginSession", a.session, ctypes.byref(begin)) == \
            xr.Result.ERROR_SESSION_RUNNING
        assert raw("xrBeginFrame", a.session, None) == xr.Result.ERROR_CALL_ORDER_INVALID
        assert raw("xrEndSession", a.session) == xr.Result.ERROR_SESSION_NOT_STOPPING
        assert raw("xrWaitFrame", a.session, None, ctypes.byref(state)) == 0
        assert raw("xrBeginFrame", a.session, None) == 0
        assert raw("xrWaitFrame", a.session, None, ctypes.byref(state)) == 0
        assert raw("xrBeginFrame", a.session, None) == xr.Result.FRAME_DISCARDED
        end = xr.FrameEndInfo(state.predicted_display_time, xr.EnvironmentBlendMode.OPAQUE)
        assert raw("xrEndFrame", a.session, ctypes.byref(end)) == 0
        assert raw("xrEndFrame", a.session, ctypes.byref(end)) == \
            xr.Result.ERROR_CALL_ORDER_INVALID
        stage = a.space()
        tracker = ext_fn(a.instance, "xrCreateHandTrackerEXT")
        hand = xr.HandTrackerEXT()
        assert tracker(a.session, ctypes.byref(xr.HandTrackerCreateInfoEXT(
            hand=xr.HandEXT.RIGHT)), ctypes.byref(hand)) == 0
        joints = (xr.HandJointLocationEXT * 25)()
        locs = xr.HandJointLocationsEXT(joint_count=25, joint_locations=joints)
        assert ext_fn(a.instance, "xrLocateHandJointsEXT")(
            hand, ctypes.byref(xr.HandJointsLocateInfoEXT(base_space=stage, time=START)),
            ctypes.byref(locs)) == xr.Result.ERROR_VALIDATION_FAILURE


# ---- an EGL session: swapchains and submitted images -----------------------------------

EGL_NONE, EGL_OPENGL_API, EGL_PLATFORM_SURFACELESS_MESA = 0x3038, 0x30A2, 0x31DD
GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_COLOR_BUFFER_BIT = 0x8D40, 0x8CE0, 0x4000
GL_TEXTURE_2D, GL_SCISSOR_TEST, GL_FRAMEBUFFER_COMPLETE = 0x0DE1, 0x0C11, 0x8CD5
GL_SRGB8_ALPHA8 = 0x8C43


class EglContext:
    """A surfaceless Mesa EGL context with GL 3.3+, current on this thread."""

    def __init__(self):
        egl = self.egl = ctypes.CDLL("libEGL.so.1")
        egl.eglGetProcAddress.restype = ctypes.c_void_p
        egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
        for name in ("eglInitialize", "eglChooseConfig", "eglBindAPI", "eglMakeCurrent",
                     "eglDestroyContext", "eglTerminate"):
            getattr(egl, name).restype = ctypes.c_uint
        egl.eglCreateContext.restype = ctypes.c_void_p
        egl.eglCreateContext.argtypes = [ctypes.c_void_p] * 3 + [ctypes.POINTER(ctypes.c_int)]
        egl.eglMakeCurrent.argtypes = [ctypes.c_void_p] * 4
        get_display = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p,
                                       ctypes.c_void_p)(
            egl.eglGetProcAddress(b"eglGetPlatformDisplayEXT"))
        self.display = get_display(EGL_PLATFORM_SURFACELESS_MESA, None, None)
        major, minor = ctypes.c_int(), ctypes.c_int()
        if not self.display or not egl.eglInitialize(ctypes.c_void_p(self.display),
                                                     ctypes.byref(major), ctypes.byref(minor)):
            raise AssertionError("no surfaceless EGL display (Mesa's EGL: tools/system-deps.sh)")
        egl.eglBindAPI(EGL_OPENGL_API)
        # EGL_SURFACE_TYPE: PBUFFER_BIT, EGL_RENDERABLE_TYPE: OPENGL_BIT
        attrs = (ctypes.c_int * 5)(0x3033, 0x0001, 0x3040, 0x0008, EGL_NONE)
        self.config, n = ctypes.c_void_p(), ctypes.c_int()
        egl.eglChooseConfig(ctypes.c_void_p(self.display), attrs, ctypes.byref(self.config), 1,
                            ctypes.byref(n))
        ctx_attrs = (ctypes.c_int * 5)(0x3098, 3, 0x30FB, 3, EGL_NONE)  # GL 3.3
        self.context = egl.eglCreateContext(self.display, self.config, None, ctx_attrs)
        if not n.value or not self.context:
            raise AssertionError("no EGL OpenGL 3.3 context (Mesa's EGL: tools/system-deps.sh)")
        assert egl.eglMakeCurrent(self.display, None, None, self.context)
        self.get_proc_address = ctypes.cast(egl.eglGetProcAddress, ctypes.c_void_p).value

    def gl(self, name, restype, *argtypes):
        return ctypes.CFUNCTYPE(restype, *argtypes)(self.egl.eglGetProcAddress(name.encode()))

    def binding(self):
        # pyopenxr types these fields with PyOpenGL's EGL handle types when it is installed
        kinds = dict(xr.GraphicsBindingEGLMNDX._fields_)

        def handle(field, value):
            return ctypes.cast(ctypes.c_void_p(value), kinds[field])

        return xr.GraphicsBindingEGLMNDX(
            get_proc_address=xr.PFN_xrEglGetProcAddressMNDX(self.get_proc_address),
            display=handle("display", self.display), config=handle("config", self.config.value),
            context=handle("context", self.context))

    def close(self):
        self.egl.eglMakeCurrent(self.display, None, None, None)
        self.egl.eglDestroyContext(ctypes.c_void_p(self.display),
                                   ctypes.c_void_p(self.context))


class Painter:
    """Clears texture layers to colours through a framebuffer object."""

    def __init__(self, ctx: EglContext):
        u, i, f = ctypes.c_uint, ctypes.c_int, ctypes.c_float
        self.gen = ctx.gl("glGenFramebuffers", None, i, ctypes.POINTER(u))
        self.bind = ctx.gl("glBindFramebuffer", None, u, u)
        self.tex2d = ctx.gl("glFramebufferTexture2D", None, u, u, u, u, i)
        self.layer = ctx.gl("glFramebufferTextureLayer", None, u, u, u, i, i)
        self.status = ctx.gl("glCheckFramebufferStatus", u, u)
        self.color = ctx.gl("glClearColor", None, f, f, f, f)
        self.clear = ctx.gl("glClear", None, u)
        self.scissor = ctx.gl("glScissor", None, i, i, i, i)
        self.enable = ctx.gl("glEnable", None, u)
        self.disable = ctx.gl("glDisable", None, u)
        self.finish = ctx.gl("glFinish", None)
        self.fbo = u()
        self.gen(1, ctypes.byref(self.fbo))

    def paint(self, texture, layer, array, rgba, band, size):
        """Clears the image to ``rgba`` and its top 8 rows to ``band``."""
        self.bind(GL_FRAMEBUFFER, self.fbo)
        if array:
            self.layer(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, texture, 0, layer)
        else:
            self.tex2d(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, texture, 0)
        assert self.status(GL_FRAMEBUFFER) == GL_FRAMEBUFFER_COMPLETE
        self.color(*rgba)
        self.clear(GL_COLOR_BUFFER_BIT)
        self.enable(GL_SCISSOR_TEST)
        self.scissor(0, size[1] - 8, size[0], 8)  # GL rows count from the bottom
        self.color(*band)
        self.clear(GL_COLOR_BUFFER_BIT)
        self.disable(GL_SCISSOR_TEST)
        self.bind(GL_FRAMEBUFFER, 0)
        self.finish()


@pytest.mark.parametrize("array_size", [1, 2])
def test_egl_session_submits_images(tmp_path, array_size):
    size = (96, 64)
    rep = write_replay(tmp_path / "r.npz")
    exts = ["XR_KHR_opengl_enable", "XR_MNDX_egl_enable"]
    with xr_test_runtime(replay=tmp_path / "r.npz", view_size=size,
                         extensions=exts) as runtime:
        ctx = EglContext()
        try:
            with app(exts, ctx.binding()) as a:
                a.create_session()
                formats = xr.enumerate_swapchain_formats(a.session)
                assert GL_SRGB8_ALPHA8 in formats
                info = xr.SwapchainCreateInfo(
                    usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT
                    | xr.SwapchainUsageFlags.SAMPLED_BIT, format=GL_SRGB8_ALPHA8,
                    sample_count=1, width=size[0], height=size[1], face_count=1,
                    array_size=array_size, mip_count=1)
                chains = [xr.create_swapchain(a.session, info)
                          for _ in range(3 - array_size)]
                images = [[img.image for img in xr.enumerate_swapchain_images(
                    sc, xr.SwapchainImageOpenGLKHR)] for sc in chains]
                assert [len(i) for i in images] == [3] * len(chains)
                stage = a.space()
                painter = Painter(ctx)
                a.begin()
                colours = [((1, 0, 0, 1), (0, 1, 0, 1)), ((0, 0, 1, 1), (1, 1, 0, 1))]
                for k in range(6):
                    state = xr.wait_frame(a.session)
                    xr.begin_frame(a.session)
                    t = state.predicted_display_time
                    _, views = xr.locate_views(a.session, xr.ViewLocateInfo(
                        xr.ViewConfigurationType.PRIMARY_STEREO, t, stage))
                    # one image per swapchain and frame: an array swapchain's image holds
                    # both eyes (layers 0 and 1), else each eye has its own swapchain
                    for c, sc in enumerate(chains):
                        idx = xr.acquire_swapchain_image(sc, xr.SwapchainImageAcquireInfo())
                        xr.wait_swapchain_image(sc, xr.SwapchainImageWaitInfo(
                            timeout=xr.INFINITE_DURATION))
                        for eye in range(2) if array_size > 1 else [c]:
                            base, band = colours[eye] if k % 2 == 0 else colours[1 - eye]
                            painter.paint(images[c][idx], eye, array_size > 1, base, band,
                                          size)
                        xr.release_swapchain_image(sc, xr.SwapchainImageReleaseInfo())
                    proj = [xr.CompositionLayerProjectionView(
                        pose=views[eye].pose, fov=views[eye].fov,
                        sub_image=xr.SwapchainSubImage(
                            swapchain=chains[eye % len(chains)],
                            image_rect=xr.Rect2Di(extent=xr.Extent2Di(*size)),
                            image_array_index=eye if array_size > 1 else 0))
                        for eye in range(2)]
                    layer = xr.CompositionLayerProjection(space=stage, views=proj)
                    xr.end_frame(a.session, xr.FrameEndInfo(
                        t, xr.EnvironmentBlendMode.OPAQUE, layers=[ctypes.pointer(layer)]))
                    a.poll()
                for eye in range(2):  # frame 5 swapped the colours
                    img = runtime.last_image(eye)
                    base, band = colours[1 - eye]
                    assert img.shape == (size[1], size[0], 4)
                    assert (img[:8] == np.array(band) * 255).all()
                    assert (img[8:] == np.array(base) * 255).all()
                log = runtime.frame_log()
                assert len(log) == 6
                for rec in log:
                    head = rep["head"][sample_index(rep["t"], rec["display_ns"])]
                    centre = (rec["left_pose"][:3] + rec["right_pose"][:3]) / 2
                    assert np.allclose(centre, head[:3], atol=1e-5)
                    assert np.linalg.norm(rec["left_pose"][:3] - rec["right_pose"][:3]) == \
                        pytest.approx(0.064, abs=1e-5)
                    assert same_pose(rec["left_pose"], np.r_[rec["left_pose"][:3], head[3:]])
                for sc in chains:
                    xr.destroy_swapchain(sc)
            # the session is gone: the images were kept
            img = runtime.last_image(1)
            assert (img[8:] == np.array(colours[0][0]) * 255).all()
        finally:
            ctx.close()
        assert_clean(runtime)
