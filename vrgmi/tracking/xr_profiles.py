"""Suggested bindings: which controller input feeds which vrgmi action, per interaction profile.

The action set is the same for every controller; this table says where each action lives on
each of the seven profiles vrgmi suggests bindings for (OpenXR 1.1 spec, "Interaction
Profile Paths"). A profile that lacks an input simply does not bind that action (the simple
controller has no squeeze or thumbstick; the Index has no menu button an app may use).
Pure data: no pyopenxr import.
"""
from __future__ import annotations

from dataclasses import dataclass

#: (name, kind) of every controller action; kinds are pyopenxr ActionType member names
CONTROLLER_ACTIONS = (
    ("grip_pose", "POSE_INPUT"), ("aim_pose", "POSE_INPUT"),
    ("trigger", "FLOAT_INPUT"), ("squeeze", "FLOAT_INPUT"),
    ("thumbstick", "VECTOR2F_INPUT"),
    ("primary", "BOOLEAN_INPUT"), ("secondary", "BOOLEAN_INPUT"), ("menu", "BOOLEAN_INPUT"),
    ("haptic", "VIBRATION_OUTPUT"),
)
HANDS = ("/user/hand/left", "/user/hand/right")

_POSES = {"grip_pose": "input/grip/pose", "aim_pose": "input/aim/pose",
          "haptic": "output/haptic"}     # every profile has both poses and a haptic output


@dataclass(frozen=True)
class Profile:
    """One interaction profile: its path, the extension it needs on OpenXR 1.0 (None: core
    in 1.0), and per side (left, right) the action -> input sub-path table."""

    path: str
    extension_1_0: str | None
    left: dict[str, str]
    right: dict[str, str]

    def bindings(self) -> list[tuple[str, str]]:
        """(action name, full input path) pairs for xrSuggestInteractionProfileBindings."""
        return [(action, f"{hand}/{sub}") for hand, table in zip(HANDS, (self.left, self.right))
                for action, sub in table.items()]


def _both(**common: str) -> dict[str, str]:
    return {**_POSES, **common}


def _xyab(common: dict[str, str], menu_left: bool) -> tuple[dict[str, str], dict[str, str]]:
    """Left: X primary, Y secondary (and menu); right: A primary, B secondary."""
    left = {**common, "primary": "input/x/click", "secondary": "input/y/click"}
    if menu_left:
        left["menu"] = "input/menu/click"
    return left, {**common, "primary": "input/a/click", "secondary": "input/b/click"}


_STICK = _both(trigger="input/trigger/value", squeeze="input/squeeze/value",
               thumbstick="input/thumbstick")
_SIMPLE = _both(trigger="input/select/click", menu="input/menu/click")
_INDEX = dict(_STICK, primary="input/a/click", secondary="input/b/click")
_VIVE = _both(trigger="input/trigger/value", squeeze="input/squeeze/click",
              thumbstick="input/trackpad", primary="input/trackpad/click",
              menu="input/menu/click")
_WMR = _both(trigger="input/trigger/value", squeeze="input/squeeze/click",
             thumbstick="input/thumbstick", primary="input/trackpad/click",
             secondary="input/thumbstick/click", menu="input/menu/click")

PROFILES = (
    Profile("/interaction_profiles/khr/simple_controller", None, _SIMPLE, _SIMPLE),
    Profile("/interaction_profiles/oculus/touch_controller", None, *_xyab(_STICK, True)),
    Profile("/interaction_profiles/valve/index_controller", None, _INDEX, _INDEX),
    Profile("/interaction_profiles/htc/vive_controller", None, _VIVE, _VIVE),
    Profile("/interaction_profiles/microsoft/motion_controller", None, _WMR, _WMR),
    Profile("/interaction_profiles/hp/mixed_reality_controller",
            "XR_EXT_hp_mixed_reality_controller",
            *_xyab(dict(_STICK, menu="input/menu/click"), False)),
    Profile("/interaction_profiles/bytedance/pico4_controller", "XR_BD_controller_interaction",
            *_xyab(_STICK, True)),
)

TRACKER_EXTENSION = "XR_HTCX_vive_tracker_interaction"
TRACKER_PROFILE = "/interaction_profiles/htc/vive_tracker_htcx"
#: roles later revisions of XR_HTCX_vive_tracker_interaction added (older runtimes refuse
#: their paths, whatever revision number they report)
TRACKER_ROLES_V3 = ("left_wrist", "right_wrist", "left_ankle", "right_ankle")


def tracker_role_path(role: str) -> str:
    """The top-level user path of a tracker role."""
    return f"/user/vive_tracker_htcx/role/{role}"


def usable_profiles(api_minor: int, extensions: set[str]) -> tuple[Profile, ...]:
    """The profiles an instance of OpenXR 1.<api_minor> with ``extensions`` enabled accepts
    (the hp and pico profiles are core from OpenXR 1.1)."""
    return tuple(p for p in PROFILES
                 if p.extension_1_0 is None or api_minor >= 1 or p.extension_1_0 in extensions)
