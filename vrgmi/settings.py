"""Typed, validated settings: defaults < TOML file < command-line ``--set`` overrides.

Every bad value gets one line naming the key and what is allowed, e.g.
``settings: tracking.hold_s = 9 is out of range 0..5 (seconds the limb holds its last pose)``.
"""
from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from vrgmi.errors import SettingsError
from vrgmi.ids import PATIENT_ID_RULE, is_patient_id, shown_id


def _opt(default: Any, help: str, lo: float | None = None, hi: float | None = None,
         choices: tuple[str, ...] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "lo": lo, "hi": hi, "choices": choices})


UPPER_LEVELS = ("partial_hand", "wrist_disarticulation", "transradial", "elbow_disarticulation",
                "transhumeral", "shoulder_disarticulation")
LOWER_LEVELS = ("partial_foot", "ankle_syme", "transtibial", "knee_disarticulation",
                "transfemoral", "hip_disarticulation")


@dataclass
class PatientSettings:
    """Who the session is for (a pseudonymous id, never a name)."""

    id: str = _opt("demo", "pseudonymous patient id (letters, digits, - and _)")
    height_m: float = _opt(1.75, "standing height, sets segment lengths", 1.2, 2.2)
    amputation_side: str = _opt("left", "side of the missing limb", choices=("left", "right"))
    amputation_level: str = _opt("transradial", "amputation level",
                                 choices=UPPER_LEVELS + LOWER_LEVELS)
    residual_fraction: float = _opt(0.0, "residual length as a fraction of the cut segment, "
                                    "0.1..0.9 for trans- and partial levels; 0 = the level's "
                                    "default", 0.0, 0.9)
    skin_tone: str = _opt("III", "skin tone (Fitzpatrick type I-VI or a palette name)")


@dataclass
class TrackingSettings:
    """Pose source and tracking filters."""

    source: str = _opt("auto", "pose source", choices=("auto", "openxr", "desktop", "replay",
                                                      "scripted"))
    replay_path: str = _opt("", "replay file for source = replay (played in a loop)")
    scripted_motion: str = _opt("", "scripted motion for source = scripted (and auto without "
                                "a window); empty = the limb's own (reach / foot_tap)")
    max_hand_speed_mps: float = _opt(10.0, "faster moves are tracking glitches (m/s)", 1.0, 30.0)
    hold_s: float = _opt(0.5, "seconds the limb holds its last pose on tracking loss", 0.0, 5.0)
    fade_s: float = _opt(0.5, "seconds the held limb takes to fade out", 0.0, 5.0)
    blend_s: float = _opt(0.25, "seconds to blend back on reacquire", 0.0, 2.0)
    one_euro: bool = _opt(True, "One Euro smoothing of tracked poses")
    one_euro_min_cutoff: float = _opt(1.0, "One Euro minimum cutoff (Hz)", 0.01, 20.0)
    one_euro_beta: float = _opt(0.05, "One Euro speed coefficient", 0.0, 10.0)


@dataclass
class DisplaySettings:
    """Where frames go."""

    mode: str = _opt("auto", "display: auto picks headset, then window, then headless",
                     choices=("auto", "xr", "desktop", "headless"))
    refresh_hz: float = _opt(90.0, "frame rate when no headset sets it", 30.0, 144.0)
    width: int = _opt(1280, "window / screenshot width in pixels", 320, 7680)
    height: int = _opt(720, "window / screenshot height in pixels", 240, 4320)
    phantom_alpha: float = _opt(1.0, "opacity of the phantom limb beyond the stump blend "
                                "(1 = solid, as the patient's own; lower = ghostlier)", 0.3, 1.0)


@dataclass
class DataSettings:
    """Where records go."""

    database_url: str = _opt("", "SQLAlchemy URL; empty = SQLite in the user data directory")
    out_dir: str = _opt("vrgmi-out", "folder for demo screenshots, dumps and reports")


@dataclass
class CompanionSettings:
    """The therapist's companion web app (docs/companion.md)."""

    enabled: bool = _opt(True, "serve the companion while the engine runs")
    port: int = _opt(8765, "TCP port of the companion (0 = any free port)", 0, 65535)
    lan: bool = _opt(False, "listen on the local network too (default: this PC only)")
    cert_file: str = _opt("", "the clinic's TLS certificate (PEM) for LAN mode; empty = one "
                          "made on first run in the user data folder")
    key_file: str = _opt("", "the private key (PEM) of companion.cert_file")


#: the most minutes of VR in one sitting (CLINICAL.md, VR immersion guidance: 20-30 minutes at
#: most per sitting); no setting or program may allow more
VR_SITTING_MAX_MIN = 30.0


@dataclass
class SafetySettings:
    """Stop rules, pain flares, dose limits and questionnaire alerts (docs/program.md)."""

    recenter_hold_s: float = _opt(1.0, "holding the controller's menu button this long "
                                  "recentres the view", 0.3, 5.0)
    stop_hold_s: float = _opt(2.5, "holding the menu button this long is the patient's stop",
                              0.5, 10.0)
    headset_off_end_s: float = _opt(60.0, "the headset off for longer than this ends the "
                                    "session (headset_removed); shorter is a pause", 5.0, 600.0)
    session_max_min: float = _opt(20.0, "hard cap on a session's length (minutes); blocks are "
                                  "fitted within it", 1.0, VR_SITTING_MAX_MIN)
    dose_warning_min: float = _opt(2.0, "warn the patient and the therapist this many minutes "
                                   "before the session's limit", 0.0, 10.0)
    flare_rise: int = _opt(3, "a pain NRS rise of at least this much from the pre-session "
                           "rating is a pain flare (CLINICAL.md)", 1, 10)
    flare_action: str = _opt("hold", "what a pain flare does to the program: hold the phase or "
                             "step back one phase", choices=("hold", "step_back"))
    flare_hold_days: int = _opt(3, "days a flare holds the phase (no advance)", 0, 30)
    ssq_baseline: bool = _opt(True, "ask the SSQ before the session too (a baseline)")
    ssq_total_alert: float = _opt(20.0, "an SSQ total score at or above this alerts the "
                                  "therapist (Stanney 1997: above 20 is 'bad')", 3.74, 235.62)
    ssq_rise_alert: float = _opt(15.0, "an SSQ total this much above the session's baseline "
                                 "alerts the therapist", 3.74, 235.62)
    ssq_severe_alert: bool = _opt(True, "any SSQ symptom rated severe alerts the therapist")


@dataclass
class SessionSettings:
    """How a session draws its random sequences (docs/program.md, "Seeds")."""

    seed: int = _opt(0, "session seed (1..2^63-1) to replay a recorded session exactly; "
                     "0 = draw a fresh one for every session", 0, 2 ** 63 - 1)


@dataclass
class NormsSettings:
    """Normal laterality performance (CLINICAL.md; NOI guidance), the one place these numbers
    live: the laterality gate, the analysis and the reports all read them from here."""

    accuracy_min: float = _opt(0.80, "normal laterality accuracy: at least this fraction "
                               "correct on each side", 0.5, 1.0)
    rt_mean_s: float = _opt(2.0, "normal median laterality response time, hands and feet (s)",
                            0.2, 10.0)
    rt_sd_s: float = _opt(0.5, "spread of the normal response time (s): up to mean + this "
                          "meets the norm", 0.05, 3.0)
    neck_back_rt_mean_s: float = _opt(1.6, "normal response time for neck and back (s)",
                                      0.2, 10.0)
    max_side_rt_diff_s: float = _opt(0.3, "left and right about equal: the most their median "
                                     "response times may differ (s)", 0.0, 3.0)
    max_side_accuracy_diff: float = _opt(0.10, "left and right about equal: the most their "
                                         "accuracies may differ (fraction)", 0.0, 0.5)
    stable_days: int = _opt(7, "days the norms must hold (probes pooled over these days; "
                            "every day consistent with them) before laterality may end", 1, 60)
    day_confidence: float = _opt(0.996, "a day breaks the stable run only when its probe "
                                 "accuracy is below the norm at this one-sided confidence "
                                 "(a week of days on two sides is 14 checks: 1 - 0.05 / 14)",
                                 0.5, 0.9999)


#: the languages with a shipped catalog (vrgmi/locale/); English is the source language
LANGUAGES = ("en", "de")


@dataclass
class UiSettings:
    """What the patient reads and hears: language, text size and contrast, instructions,
    speech (docs/accessibility.md)."""

    language: str = _opt("en", "language of every patient-facing text and spoken "
                         "instruction", choices=LANGUAGES)
    text_scale: float = _opt(1.0, "enlarges every text panel (1 = the scenes' sizes)", 1.0, 3.0)
    min_x_height_deg: float = _opt(0.65, "smallest height of a lower-case x (visual angle, "
                                   "deg); no panel text is drawn smaller", 0.35, 3.0)
    high_contrast: bool = _opt(False, "low-vision mode: white and yellow text on black cards")
    instructions: bool = _opt(True, "show each task's instruction screen before it starts")
    instruction_timeout_s: float = _opt(45.0, "an instruction screen the patient does not "
                                        "dismiss (select) closes after this long", 5.0, 600.0)
    speak_instructions: bool = _opt(True, "read instruction screens aloud (espeak-ng)")
    speak_cues: bool = _opt(False, "read short in-trial cues aloud too")


@dataclass
class PracticeSettings:
    """Practice trials with feedback before the scored ones; never scored, never fed to a
    staircase, a progression or the gate (docs/laterality.md, docs/imagery.md)."""

    laterality_trials: int = _opt(4, "practice trials before a laterality session", 0, 20)
    imagery_trials: int = _opt(1, "practice movements before an imagery block", 0, 5)
    mirror_trials: int = _opt(1, "practice trials before a mirror task", 0, 5)


@dataclass
class ImagerySettings:
    """Explicit motor imagery checks (docs/imagery.md)."""

    intact_moved_m: float = _opt(0.03, "the intact hand / foot moving further than this "
                                 "(m) from where it was at the go tone flags the trial", 0.005,
                                 0.5)
    intact_moved_mps: float = _opt(0.10, "the intact hand / foot moving faster than this "
                                   "(m/s) while imagining flags the trial", 0.02, 2.0)


@dataclass
class MirrorSettings:
    """Mirror therapy: where the phantom may go, and whether the patient watches it
    (docs/mirror-tasks.md)."""

    midline_clearance_m: float = _opt(0.06, "the phantom's joints keep at least this far "
                                      "(m) from the body midline and from the intact limb's "
                                      "joints: it never passes through the intact limb; "
                                      "0 = a pure mirror", 0.0, 0.2)
    watch_angle_deg: float = _opt(30.0, "the phantom hand / foot counts as watched while it "
                                  "is within this angle (deg) of the head's forward "
                                  "direction", 5.0, 90.0)
    look_cue_s: float = _opt(0.0, "seconds of looking away from the phantom before a gentle "
                             "'look at your hand' cue in the headset; 0 = never", 0.0, 120.0)


@dataclass
class EmbodimentSettings:
    """Embodiment measures around mirror blocks and the touch task (docs/embodiment.md)."""

    questionnaire_every: int = _opt(0, "ask the embodiment questionnaire after every N-th "
                                    "mirror block of a session; 0 = never", 0, 20)
    items_file: str = _opt("", "the clinic's embodiment item texts (JSON, docs/embodiment.md); "
                           "empty = vrgmi's own items")
    drift_every: int = _opt(0, "proprioceptive drift task before and after every N-th mirror "
                            "block of a session; 0 = never", 0, 20)
    drift_trials: int = _opt(2, "pointings per drift task (their mean is the task's error)",
                             1, 5)
    drift_fade_s: float = _opt(0.8, "seconds the view takes to fade to the plain room before "
                               "the patient points", 0.2, 3.0)
    drift_time_limit_s: float = _opt(20.0, "a pointing not confirmed within this many "
                                     "seconds is recorded as a timeout", 5.0, 60.0)
    touch_delay_s: float = _opt(0.0, "the drawn brush lags the real one by this many seconds "
                                "(0 = synchronous; the control condition uses about 0.5 s)",
                                0.0, 2.0)
    touch_contact_m: float = _opt(0.06, "the brush tip within this distance (m) of a limb's "
                                  "axis touches it", 0.02, 0.15)
    touch_haptic: bool = _opt(False, "a haptic pulse on the patient's controller when the "
                              "drawn brush starts touching the virtual limb")
    touch_haptic_amplitude: float = _opt(0.5, "strength of the haptic pulse (0..1)", 0.05, 1.0)
    touch_brush: str = _opt("auto", "what the therapist holds as the brush: a tracker with "
                            "the role handheld_object, the controller on the amputated side, or "
                            "auto (the tracker when tracked, else that controller)",
                            choices=("auto", "handheld_object", "controller"))


@dataclass
class BodySettings:
    """The body frame (docs/body-model.md): what may turn it, and when a turn is only
    suspected and left to the therapist. The gaze never moves it."""

    tracker_tau_s: float = _opt(0.15, "time constant with which the body frame follows a "
                                "waist or chest tracker (s)", 0.02, 2.0)
    max_turn_dps: float = _opt(120.0, "fastest the body frame turns after a tracker (deg/s); "
                               "keeps the phantom from jumping", 10.0, 720.0)
    max_shift_mps: float = _opt(0.6, "fastest the body frame moves after a tracker (m/s)",
                                0.05, 5.0)
    turn_min_deg: float = _opt(20.0, "a body rotation at least this large is a turn (recorded; "
                               "without a tracker, flagged to the therapist)", 5.0, 90.0)
    turn_settle_deg: float = _opt(2.0, "a tracked turn is recorded once the body frame is "
                                  "this close to the tracker (deg)", 0.5, 10.0)
    turn_fit_m: float = _opt(0.05, "without a tracker: the neck and the intact hand or foot "
                             "must move as one rigid body within this (m) for a suspected "
                             "turn", 0.01, 0.2)
    turn_window_s: float = _opt(2.0, "the longest turn the detector looks back over (s)",
                                0.5, 5.0)
    arc_min_m: float = _opt(0.04, "intact limb not tracked: the neck must move at least this "
                            "far on a chair's arc for a suspected turn (m)", 0.01, 0.3)
    axis_max_m: float = _opt(0.35, "... about an axis at most this far from the neck (m)",
                             0.05, 1.0)
    held_yaw_deg: float = _opt(60.0, "the head held this far off the body's forward ...",
                               20.0, 180.0)
    held_s: float = _opt(120.0, "... for this long (s) is a suspected turn", 5.0, 1800.0)


@dataclass
class OutcomesSettings:
    """[outcomes]: the measure battery, follow-up visits and responder analysis
    (docs/outcomes.md)."""

    followup_months: str = _opt("1,3,6", "follow-up visits this many months after the end of "
                                "treatment (comma-separated whole months, 1..24)")
    due_before_days: int = _opt(7, "a visit is listed as due this many days before its date",
                                0, 60)
    overdue_after_days: int = _opt(14, "a visit not done this many days after its date is "
                                   "overdue", 1, 120)
    dropout_after_days: int = _opt(60, "a visit still not done this many days after its date "
                                   "counts the patient as dropped out at that time point", 1, 365)
    end_after_mirror_days: int = _opt(14, "the end-of-treatment visit is due once the mirror "
                                      "phase has run this many days", 1, 120)
    responder_moderate: float = _opt(0.30, "a responder: average pain at least this fraction "
                                     "below baseline (IMMPACT: 30 % moderately important)",
                                     0.05, 1.0)
    responder_substantial: float = _opt(0.50, "a substantial responder: at least this fraction "
                                        "below baseline (IMMPACT: 50 %)", 0.05, 1.0)
    item_texts_file: str = _opt("", "the clinic's licensed item texts (TOML or JSON) shown "
                                "instead of the built-in ones; empty = built-in texts")


@dataclass
class ShapingSettings:
    """Shaping the phantom as the patient feels it, and normalising it over sessions
    (docs/phantom-shaping.md)."""

    max_telescoping: float = _opt(0.8, "the most a phantom forearm / shank may be shortened "
                                  "(fraction of its missing length)", 0.0, 0.95)
    steps: int = _opt(5, "default number of steps from the felt phantom to the mirrored "
                      "intact limb", 1, 20)
    sessions_per_step: int = _opt(3, "default pace: completed sessions at a step before the "
                                  "schedule may take the next one", 1, 30)
    max_pain_rise: float = _opt(1.0, "a step may advance only while the NRS after its "
                                "sessions averages at most this much above before", 0.0, 5.0)


@dataclass
class StudySettings:
    """Control conditions for research and their blinding (docs/study-conditions.md)."""

    delay_s: float = _opt(0.5, "delayed-mirror condition: the phantom shows the mirror image "
                          "this many seconds late", 0.05, 3.0)
    max_delay_s: float = _opt(3.0, "the longest delay the delay buffer holds (s)", 0.1, 10.0)
    replay_motion: str = _opt("figure_eight", "non-mirrored condition: the motion the phantom "
                              "replays (a scripted motion name or a replay file)")
    code_length: int = _opt(4, "characters of a condition code (letters and digits)", 3, 12)


#: how a decoded signal joins the mirrored pose, per degree of freedom (docs/research.md)
DRIVE_MODES = ("blend", "replace")


@dataclass
class LslSettings:
    """Lab Streaming Layer (docs/research.md): the session's markers and the solved limbs as
    LSL streams for a lab's recorder, and a decoded signal (an EMG decoder's output) driving
    the phantom's grip, wrist rotation or ankle flexion. Off unless set."""

    enabled: bool = _opt(False, "publish the marker stream (vrgmi-markers) and the limb and "
                         "head stream (vrgmi-limbs) on the lab network")
    limbs: bool = _opt(True, "with enabled: stream both limbs' solved joints and the head "
                       "every frame too")
    drive_stream: str = _opt("", "name of the LSL stream whose channels drive the phantom "
                             "(an EMG decoder's output); empty = the phantom only mirrors")
    drive_timeout_s: float = _opt(0.2, "no sample for this long (s): the drive stream counts "
                                  "as lost and the phantom fades back to the mirror", 0.02, 5.0)
    drive_fade_s: float = _opt(0.5, "seconds the phantom takes to fade between the mirror "
                               "and the decoded signal (on loss and on reacquire)", 0.05, 5.0)
    drive_smoothing_s: float = _opt(0.08, "time constant of the decoded signal's smoothing "
                                    "(s); 0 = none", 0.0, 2.0)
    drive_blend: float = _opt(0.5, "share of the decoded signal in a blended degree of "
                              "freedom (the rest is the mirrored pose)", 0.0, 1.0)
    grip_channel: int = _opt(-1, "drive stream channel (0-based) for the hand closing; "
                             "-1 = not driven", -1, 1023)
    grip_mode: str = _opt("replace", "the decoded grip blends with or replaces the mirrored "
                          "one", choices=DRIVE_MODES)
    grip_low: float = _opt(0.0, "grip channel value meaning the hand fully open", -1e6, 1e6)
    grip_high: float = _opt(1.0, "grip channel value meaning a full fist", -1e6, 1e6)
    wrist_channel: int = _opt(-1, "drive stream channel for wrist (forearm) rotation; -1 = not "
                              "driven", -1, 1023)
    wrist_mode: str = _opt("replace", "the decoded wrist rotation blends with or replaces the "
                           "mirrored one", choices=DRIVE_MODES)
    wrist_low: float = _opt(0.0, "wrist channel value meaning full supination (the joint "
                            "limit)", -1e6, 1e6)
    wrist_high: float = _opt(1.0, "wrist channel value meaning full pronation", -1e6, 1e6)
    ankle_channel: int = _opt(-1, "drive stream channel for ankle flexion; -1 = not driven",
                              -1, 1023)
    ankle_mode: str = _opt("replace", "the decoded ankle flexion blends with or replaces the "
                           "mirrored one", choices=DRIVE_MODES)
    ankle_low: float = _opt(0.0, "ankle channel value meaning full plantarflexion (the joint "
                            "limit)", -1e6, 1e6)
    ankle_high: float = _opt(1.0, "ankle channel value meaning full dorsiflexion", -1e6, 1e6)


@dataclass
class LimbShapeSettings:
    """The patient's limb shape, the same on the intact and the phantom limb (MakeHuman's
    targets as the models' morph targets; docs/limb-rigs.md "Matched to the patient").
    Segment lengths still come from the height."""

    build: float = _opt(0.0, "build: -1 slim, 0 average, 1 heavy", -1.0, 1.0)
    muscle: float = _opt(0.0, "muscle: -1 little, 0 average, 1 strong", -1.0, 1.0)
    sex: float = _opt(0.0, "sex-typical hand and foot shape: -1 female, 0 neutral, 1 male",
                      -1.0, 1.0)
    age_years: float = _opt(25.0, "age (years): 25 and under the young adult shape, older "
                            "towards MakeHuman's 90-year-old", 18.0, 90.0)
    hand_size: float = _opt(1.0, "hand size relative to the height's average hand", 0.85, 1.2)
    foot_size: float = _opt(1.0, "foot size relative to the height's average foot", 0.85, 1.2)


@dataclass
class Settings:
    """All settings, grouped by section as in the TOML file."""

    patient: PatientSettings = field(default_factory=PatientSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    display: DisplaySettings = field(default_factory=DisplaySettings)
    data: DataSettings = field(default_factory=DataSettings)
    companion: CompanionSettings = field(default_factory=CompanionSettings)
    session: SessionSettings = field(default_factory=SessionSettings)
    norms: NormsSettings = field(default_factory=NormsSettings)
    safety: SafetySettings = field(default_factory=SafetySettings)
    ui: UiSettings = field(default_factory=UiSettings)
    practice: PracticeSettings = field(default_factory=PracticeSettings)
    imagery: ImagerySettings = field(default_factory=ImagerySettings)
    mirror: MirrorSettings = field(default_factory=MirrorSettings)
    body: BodySettings = field(default_factory=BodySettings)
    lsl: LslSettings = field(default_factory=LslSettings)
    embodiment: EmbodimentSettings = field(default_factory=EmbodimentSettings)
    outcomes: OutcomesSettings = field(default_factory=OutcomesSettings)
    shaping: ShapingSettings = field(default_factory=ShapingSettings)
    study: StudySettings = field(default_factory=StudySettings)
    limb_shape: LimbShapeSettings = field(default_factory=LimbShapeSettings)


def _shown(value: Any) -> str:
    """A value as an error message shows it: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(kind: type, value: Any) -> int | float:
    """``value`` as ``kind`` (int or float); ValueError unless it is one exactly (an int
    setting takes 1280 or 1280.0, never 1280.7), finite, and not a bool."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text) if kind is int else float(text)
        except ValueError:
            value = float(text)             # "1e3" for an int; still checked below
    number = float(value) if not isinstance(value, int) else value
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError
    if kind is int:
        if isinstance(number, float) and not number.is_integer():
            raise ValueError
        return int(number)
    return float(number)


def _coerce(key: str, f: dataclasses.Field, value: Any) -> Any:
    meta = f.metadata
    raw = value
    kind = f.type if isinstance(f.type, type) else {"float": float, "int": int, "str": str,
                                                     "bool": bool}[f.type]
    if kind is bool:
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            value = value.lower() in ("true", "1", "yes")
        if not isinstance(value, bool):
            raise SettingsError(f"settings: {key} = {_shown(value)} must be true or false "
                                f"({meta['help']})")
    elif kind in (int, float):
        try:
            value = _number(kind, value)
        except (TypeError, ValueError, OverflowError):
            what = ", a whole one," if kind is int else ", a finite one,"
            raise SettingsError(f"settings: {key} = {_shown(raw)} must be a number{what} "
                                f"({meta['help']})") from None
        if meta["lo"] is not None and not meta["lo"] <= value <= meta["hi"]:
            raise SettingsError(f"settings: {key} = {_shown(raw)} is out of range "
                                f"{meta['lo']:g}..{meta['hi']:g} ({meta['help']})")
    else:
        if not isinstance(value, str):
            raise SettingsError(f"settings: {key} = {_shown(value)} must be text ({meta['help']})")
        if meta["choices"] and value not in meta["choices"]:
            raise SettingsError(f"settings: {key} = {_shown(value)} is not one of "
                                f"{', '.join(meta['choices'])}")
    return value


def _apply(settings: Settings, key: str, value: Any) -> None:
    section_name, _, name = key.partition(".")
    section_fields = {f.name: f for f in fields(Settings)}
    if section_name not in section_fields or not name:
        raise SettingsError(f"settings: unknown key {_shown(key)}; sections are "
                            f"{', '.join(section_fields)}")
    section = getattr(settings, section_name)
    by_name = {f.name: f for f in fields(section)}
    if name not in by_name:
        raise SettingsError(f"settings: unknown key {_shown(key)}; {section_name} has "
                            f"{', '.join(by_name)}")
    setattr(section, name, _coerce(key, by_name[name], value))


def _check_patient(p: PatientSettings) -> None:
    if not is_patient_id(p.id):
        raise SettingsError(f"settings: patient.id = {shown_id(p.id)} {PATIENT_ID_RULE}")


def load_settings(path: str | os.PathLike | None = None,
                  overrides: list[str] | dict[str, Any] | None = None) -> Settings:
    """Build settings from defaults, an optional TOML file and ``section.key=value`` overrides."""
    settings = Settings()
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"settings: file {p} does not exist") from None
        except IsADirectoryError:
            raise SettingsError(f"settings: {p} is a folder, not a settings file") from None
        except OSError as exc:
            raise SettingsError(f"settings: cannot read {p} ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise SettingsError(f"settings: {p} is not UTF-8 text") from None
        except RecursionError:
            raise SettingsError(f"settings: {p} is nested too deeply") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings: {p} is not valid TOML ({exc})") from None
        for section, table in data.items():
            if not isinstance(table, dict):
                raise SettingsError(f"settings: unknown key {_shown(section)} in {p}; use "
                                    "[patient], [tracking], [display], [data], [companion], "
                                    "[safety]")
            for name, value in table.items():
                _apply(settings, f"{section}.{name}", value)
    items = overrides.items() if isinstance(overrides, dict) else (
        _split_override(o) for o in (overrides or []))
    for key, value in items:
        _apply(settings, key, value)
    _check_patient(settings.patient)
    return settings


def _split_override(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise SettingsError(f"settings: override {_shown(text)} must look like "
                            "section.key=value")
    return key.strip(), value.strip()


def describe_settings() -> str:
    """Every key with its default, range and help, as shown by ``vrgmi doctor --settings``."""
    lines = []
    for sf in fields(Settings):
        lines.append(f"[{sf.name}]")
        for f in fields(sf.default_factory()):
            m = f.metadata
            rng = (f" ({m['lo']:g}..{m['hi']:g})" if m["lo"] is not None
                   else f" ({' | '.join(m['choices'])})" if m["choices"] else "")
            lines.append(f"  {f.name} = {f.default!r}{rng}  # {m['help']}")
    return "\n".join(lines)
