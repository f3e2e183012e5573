"""OpenXRSource: controllers, hand tracking and Vive trackers from an OpenXR session.

One action set ("vrgmi") with grip and aim poses, trigger, squeeze, thumbstick, primary and
secondary buttons and menu, and a haptic output (:meth:`OpenXRSource.haptic_pulse`),
suggested for every profile of :mod:`vrgmi.tracking.xr_profiles` the instance accepts;
XR_EXT_hand_tracking with our own 26-joint array (pyopenxr's
``locate_hand_joints_ext`` passes an empty one); XR_HTCX_vive_tracker_interaction roles for
the residual limb and the feet. ``poll`` locates everything at the frame's predicted display
time (the display clock is :meth:`XrSession.to_seconds`), converts stage space to engine space
in place, and turns thumbstick / button / trigger changes into :mod:`vrgmi.input` actions
stamped with the runtime's ``lastChangeTime`` on the display clock.
"""
from __future__ import annotations

import ctypes

import numpy as np

from vrgmi.input import AxisToActions, ButtonToAction, InputQueue
from vrgmi.tracking.frame import (
    HAND_JOINT_COUNT, SIDES, TRACKER_INDEX, TRACKER_ROLES, PoseSource, TrackingFrame,
)
from vrgmi.tracking.openxr import XrSession
from vrgmi.tracking.xr_profiles import (
    CONTROLLER_ACTIONS, HANDS, TRACKER_EXTENSION, TRACKER_PROFILE, TRACKER_ROLES_V3,
    tracker_role_path, usable_profiles,
)

_VALID = 0x3   # XR_SPACE_LOCATION_ORIENTATION_VALID_BIT | POSITION_VALID_BIT
#: XrHandJointLocationEXT as NumPy sees it (flags, orientation xyzw, position xyz, radius)
_JOINT_DTYPE = np.dtype([("flags", "<u8"), ("q", "<f4", 4), ("p", "<f4", 3), ("r", "<f4")])


def stage_pose_into(pose, out: np.ndarray) -> None:
    """An XrPosef (stage space) -> ``out`` (7,) engine pose, in place (vrgmi.spatial axes)."""
    p, q = pose.position, pose.orientation
    out[0], out[1], out[2] = p.x, -p.z, p.y
    out[3], out[4], out[5], out[6] = q.x, -q.z, q.y, q.w


class OpenXRSource(PoseSource):
    """Fills TrackingFrames from a running :class:`XrSession` (engine space).

    ``inputs`` (set by the app) receives the semantic actions: thumbstick -> left/right,
    up/down; trigger -> the side it is on (laterality answers); primary -> select;
    secondary -> back; menu -> menu, and menu_release when let go (the patient's hold:
    :mod:`vrgmi.patient_controls`). ``profile`` is the current interaction profile path of
    each hand ("" when none).
    """

    name = "openxr"

    def __init__(self, xrs: XrSession, inputs: InputQueue | None = None) -> None:
        xr = self.xr = xrs.xr
        self.xrs = xrs
        self.inputs = inputs
        inst, session = xrs.instance, xrs.session
        self._hand_paths = [xr.string_to_path(inst, h) for h in HANDS]
        self.action_set = xr.create_action_set(inst, xr.ActionSetCreateInfo(
            action_set_name="vrgmi", localized_action_set_name="vrgmi", priority=0))
        self.actions = {name: xr.create_action(self.action_set, xr.ActionCreateInfo(
            action_name=name, action_type=getattr(xr.ActionType, kind),
            subaction_paths=self._hand_paths, localized_action_name=name.replace("_", " ")))
            for name, kind in CONTROLLER_ACTIONS}
        self.profiles = usable_profiles(xrs.api_minor, set(xrs.extensions))
        for profile in self.profiles:
            self._suggest(profile.path, profile.bindings())
        self.roles = self._tracker_action() if TRACKER_EXTENSION in xrs.extensions else ()
        role_paths = [xr.string_to_path(inst, tracker_role_path(r)) for r in self.roles]
        xr.attach_session_action_sets(session, xr.SessionActionSetsAttachInfo(
            action_sets=[self.action_set]))
        identity = xr.Posef()

        def space(action: str, sub):
            return xr.create_action_space(session, xr.ActionSpaceCreateInfo(
                action=self.actions[action], subaction_path=sub, pose_in_action_space=identity))

        self._grip = [space("grip_pose", p) for p in self._hand_paths]
        self._aim = [space("aim_pose", p) for p in self._hand_paths]
        self._trackers = [(TRACKER_INDEX[r], space("tracker_pose", p))
                          for r, p in zip(self.roles, role_paths)]
        self._hands = self._hand_trackers()
        self._sync = xr.ActionsSyncInfo(active_action_sets=[xr.ActiveActionSet(
            action_set=self.action_set, subaction_path=xr.NULL_PATH)])
        self._get = {(name, s): xr.ActionStateGetInfo(action=self.actions[name],
                                                      subaction_path=self._hand_paths[s])
                     for name, _ in CONTROLLER_ACTIONS for s in (0, 1)}
        self._float = xr.ActionStateFloat()
        self._bool = xr.ActionStateBoolean()
        self._vec = xr.ActionStateVector2f()
        self._vibration = xr.HapticVibration(frequency=xr.FREQUENCY_UNSPECIFIED)
        self._haptic = [xr.HapticActionInfo(action=self.actions["haptic"], subaction_path=p)
                        for p in self._hand_paths]
        self._devices = ("controller_left", "controller_right")
        self._stick = [(AxisToActions("left", "right"), AxisToActions("down", "up"))
                       for _ in SIDES]
        self._buttons = [{"trigger": ButtonToAction(SIDES[s]), "primary": ButtonToAction("select"),
                          "secondary": ButtonToAction("back"),
                          "menu": ButtonToAction("menu", release_action="menu_release")}
                         for s in (0, 1)]
        self.profile = ["", ""]
        self.located_ns = 0

    def _suggest(self, profile: str, bindings: list[tuple[str, str]]) -> None:
        xr, inst = self.xr, self.xrs.instance
        xr.suggest_interaction_profile_bindings(inst, xr.InteractionProfileSuggestedBinding(
            interaction_profile=xr.string_to_path(inst, profile),
            suggested_bindings=[xr.ActionSuggestedBinding(self.actions[a],
                                                          xr.string_to_path(inst, path))
                                for a, path in bindings]))

    def _tracker_action(self) -> tuple[str, ...]:
        """The tracker pose action (every role a subaction path) and its suggested bindings;
        a runtime predating the wrist and ankle roles refuses their paths, so it gets the
        older roles only. Returns the roles in use."""
        xr, inst = self.xr, self.xrs.instance
        for roles in (TRACKER_ROLES, tuple(r for r in TRACKER_ROLES if r not in TRACKER_ROLES_V3)):
            action = None
            try:
                action = xr.create_action(self.action_set, xr.ActionCreateInfo(
                    action_name="tracker_pose", action_type=xr.ActionType.POSE_INPUT,
                    subaction_paths=[xr.string_to_path(inst, tracker_role_path(r))
                                     for r in roles], localized_action_name="tracker pose"))
                self.actions["tracker_pose"] = action
                self._suggest(TRACKER_PROFILE, [("tracker_pose", f"{tracker_role_path(r)}/input/"
                                                                 "grip/pose") for r in roles])
                return roles
            except (xr.PathUnsupportedError, xr.PathInvalidError):
                self.actions.pop("tracker_pose", None)
                if action is not None:
                    xr.destroy_action(action)
        return ()

    def _hand_trackers(self) -> list[tuple]:
        """Per hand: (tracker, locate info, locations, NumPy view of the 26 joints)."""
        xr = self.xr
        if "XR_EXT_hand_tracking" not in self.xrs.extensions:
            return []
        props = xr.SystemHandTrackingPropertiesEXT()
        self.xrs.call("xrGetSystemProperties", self.xrs.instance, self.xrs.system_id,
                      ctypes.byref(xr.SystemProperties(next=props)))
        if not props.supports_hand_tracking:
            return []
        self._locate_joints = ctypes.cast(
            xr.get_instance_proc_addr(self.xrs.instance, "xrLocateHandJointsEXT"),
            xr.PFN_xrLocateHandJointsEXT)
        hands = []
        for hand in (xr.HandEXT.LEFT, xr.HandEXT.RIGHT):
            tracker = xr.create_hand_tracker_ext(self.xrs.session, xr.HandTrackerCreateInfoEXT(
                hand=hand, hand_joint_set=xr.HandJointSetEXT.DEFAULT))
            joints = (xr.HandJointLocationEXT * HAND_JOINT_COUNT)()
            locations = xr.HandJointLocationsEXT(joint_count=HAND_JOINT_COUNT,
                                                 joint_locations=joints)
            info = xr.HandJointsLocateInfoEXT(base_space=self.xrs.app_space)
            view = np.frombuffer(joints, dtype=_JOINT_DTYPE)
            hands.append((tracker, info, locations, view))
        return hands

    # -- per frame ----------------------------------------------------------------------------
    def poll(self, display_time: float, frame: TrackingFrame) -> bool:
        xrs = self.xrs
        t = xrs.to_xr_time(display_time)
        self.located_ns = t
        frame.t = display_time
        loc = xrs.locate(xrs.view_space, t)
        frame.head_valid = (int(loc.location_flags) & _VALID) == _VALID
        if frame.head_valid:
            stage_pose_into(loc.pose, frame.head)
        focused = xrs.focused
        if focused:
            xrs.call("xrSyncActions", xrs.session, ctypes.byref(self._sync))
        for s in (0, 1):
            frame.grip_valid[s] = focused and self._locate(self._grip[s], t, frame.grip[s])
            frame.aim_valid[s] = focused and self._locate(self._aim[s], t, frame.aim[s])
            frame.trigger[s] = frame.squeeze[s] = 0.0
            if focused:
                frame.squeeze[s] = self._float_value("squeeze", s)
                frame.trigger[s] = self._float_value("trigger", s)
                self._buttons_to_inputs(s)
        for k, space in self._trackers:
            frame.tracker_valid[k] = focused and self._locate(space, t, frame.tracker[k])
        self._poll_hands(t, frame)
        return True

    def haptic_pulse(self, side: int, seconds: float, amplitude: float) -> bool:
        """xrApplyHapticFeedback on the ``side`` hand's haptic output (while focused: the
        runtime ignores an unfocused session's haptics)."""
        xrs = self.xrs
        if not xrs.focused:
            return False
        vib = self._vibration
        vib.duration, vib.amplitude = max(1, int(seconds * 1e9)), float(amplitude)
        xrs.call("xrApplyHapticFeedback", xrs.session, ctypes.byref(self._haptic[side]),
                 ctypes.cast(ctypes.byref(vib), ctypes.POINTER(self.xr.HapticBaseHeader)))
        return True

    def _locate(self, space, t: int, out: np.ndarray) -> bool:
        loc = self.xrs.locate(space, t)
        if (int(loc.location_flags) & _VALID) != _VALID:
            return False
        stage_pose_into(loc.pose, out)
        return True

    def _float_value(self, name: str, s: int) -> float:
        """A float action's value now (0 when unbound or inactive); the state (with its
        lastChangeTime) stays in ``self._float`` for the input mapping."""
        state = self._float
        self.xrs.call("xrGetActionStateFloat", self.xrs.session,
                      ctypes.byref(self._get[name, s]), ctypes.byref(state))
        return float(state.current_state) if state.is_active else 0.0

    def _buttons_to_inputs(self, s: int) -> None:
        """Semantic actions from this hand's buttons (after ``_float_value("trigger", s)``)."""
        queue = self.inputs
        if queue is None:
            return
        xrs, device = self.xrs, self._devices[s]
        session, get = xrs.session, self._get
        buttons = self._buttons[s]
        state = self._float
        if state.is_active and state.changed_since_last_sync:
            buttons["trigger"].update(float(state.current_state),
                                      xrs.to_seconds(state.last_change_time), queue, device)
        b = self._bool
        for name in ("primary", "secondary", "menu"):
            xrs.call("xrGetActionStateBoolean", session, ctypes.byref(get[name, s]),
                     ctypes.byref(b))
            if b.is_active and b.changed_since_last_sync:
                buttons[name].update(1.0 if b.current_state else 0.0,
                                     xrs.to_seconds(b.last_change_time), queue, device)
        v = self._vec
        xrs.call("xrGetActionStateVector2f", session, ctypes.byref(get["thumbstick", s]),
                 ctypes.byref(v))
        if v.is_active and v.changed_since_last_sync:
            at = xrs.to_seconds(v.last_change_time)
            x_axis, y_axis = self._stick[s]
            x_axis.update(float(v.current_state.x), at, queue, device)
            y_axis.update(float(v.current_state.y), at, queue, device)

    def _poll_hands(self, t: int, frame: TrackingFrame) -> None:
        for s, (tracker, info, locations, view) in enumerate(self._hands):
            info.time = t
            info.base_space = self.xrs.app_space
            res = self._locate_joints(tracker, ctypes.byref(info), ctypes.byref(locations))
            if res < 0:
                self.xrs.check(res, "xrLocateHandJointsEXT")
            valid = bool(locations.is_active) and bool(np.all(view["flags"] & _VALID == _VALID))
            frame.hand_valid[s] = valid
            if valid:
                out = frame.hand_joints[s]
                p, q = view["p"], view["q"]
                out[:, 0], out[:, 1], out[:, 2] = p[:, 0], -p[:, 2], p[:, 1]
                out[:, 3], out[:, 4], out[:, 5], out[:, 6] = q[:, 0], -q[:, 2], q[:, 1], q[:, 3]
        if not self._hands:
            frame.hand_valid[:] = False

    def update_profiles(self) -> None:
        """Re-read each hand's current interaction profile (after a "profile" event)."""
        xr = self.xr
        for s, path in enumerate(self._hand_paths):
            state = xr.get_current_interaction_profile(self.xrs.session, path)
            self.profile[s] = (xr.path_to_string(self.xrs.instance, state.interaction_profile)
                               if state.interaction_profile else "")

    def close(self) -> None:
        """Destroy the action set, spaces and hand trackers (errors from a dead runtime are
        ignored; the session's destruction frees them anyway)."""
        xr = self.xr
        handles = ([(xr.destroy_hand_tracker_ext, h[0]) for h in self._hands]
                   + [(xr.destroy_space, s) for s in self._grip + self._aim]
                   + [(xr.destroy_space, s) for _, s in self._trackers]
                   + [(xr.destroy_action_set, self.action_set)])
        for fn, handle in handles:
            try:
                fn(handle)
            except xr.XrException:
                pass
        self._hands, self._grip, self._aim, self._trackers = [], [], [], []
