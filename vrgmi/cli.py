"""The `vrgmi` command line. Every user error is printed as one line, never a traceback."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from vrgmi.errors import VrgmiError, one_line
from vrgmi.settings import LOWER_LEVELS, UPPER_LEVELS, Settings, describe_settings, load_settings

LEVEL_HELP = ("amputation level: upper " + ", ".join(UPPER_LEVELS) + "; lower "
              + ", ".join(LOWER_LEVELS))


def _settings_args(p: argparse.ArgumentParser, patient: bool = True) -> None:
    p.add_argument("--config", metavar="TOML", help="settings file (see `vrgmi doctor --settings`)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set tracking.hold_s=1.0 (repeatable)")
    if patient:
        p.add_argument("--side", choices=("left", "right"), help="side of the missing limb")
        p.add_argument("--level", metavar="LEVEL", help=LEVEL_HELP)
        p.add_argument("--height", type=float, metavar="M", help="patient height in metres")
        p.add_argument("--seed", type=int, metavar="N", help="session seed: replay a recorded "
                       "session's stimuli exactly (default: a fresh seed per session)")


def _settings(args: argparse.Namespace) -> Settings:
    overrides = list(args.overrides)
    for flag, key in (("side", "patient.amputation_side"), ("level", "patient.amputation_level"),
                      ("height", "patient.height_m"), ("seed", "session.seed")):
        value = getattr(args, flag, None)
        if value is not None:
            overrides.append(f"{key}={value}")
    return load_settings(args.config, overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vrgmi",
        description="Graded Motor Imagery in VR for phantom limb pain: a mirrored virtual limb "
                    "driven by the intact limb, laterality and imagery games, mirror therapy.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="run the engine: headset if an OpenXR runtime is present, "
                                   "else a desktop window, else a headless scripted demo")
    _settings_args(p)
    p.add_argument("--seconds", type=float, default=None,
                   help="stop after this many seconds (the headless demo: each block's length)")

    p = sub.add_parser("demo", help="play a scripted session headless and write its outputs")
    _settings_args(p)
    p.add_argument("--frames", type=int, default=600, help="frames to run (default 600)")
    p.add_argument("--out", default=None, help="output folder (default: data.out_dir)")
    p.add_argument("--motion", default=None,
                   help="scripted motion of the intact limb (default: reach / foot_tap)")

    p = sub.add_parser("replay", help="run the core (filters, mirroring, IK) over a replay file")
    _settings_args(p)
    p.add_argument("input", metavar="IN.npz", help="replay file (format: docs/replay-format.md)")
    p.add_argument("--dump", metavar="OUT.npz", required=True,
                   help="write joint positions of both limbs per frame to this file")

    p = sub.add_parser("record", help="record what a pose source produces into a replay file")
    _settings_args(p, patient=False)
    p.add_argument("output", metavar="OUT.npz", help="replay file to write")
    p.add_argument("--motion", default="reach", help="scripted motion (reach, figure_eight, wave,"
                   " fist_open, pinch, foot_tap, ankle_circles, rest)")
    p.add_argument("--intact", choices=("left", "right"), default="right",
                   help="the intact side that moves (default right)")
    p.add_argument("--seconds", type=float, default=10.0, help="length (default 10 s)")
    p.add_argument("--rate", type=float, default=90.0, help="frame rate in Hz (default 90)")

    p = sub.add_parser("bench", help="measure IK and per-frame engine cost on this machine")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="smaller runs, under a minute")

    p = sub.add_parser("scenes", help="list the installed scenes with their difficulty settings")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("session", help="run one session of a patient's GMI program "
                                       "(questionnaires, the phase's scenes, breaks)")
    _settings_args(p)
    p.add_argument("--program", metavar="FILE", help="program file, TOML or JSON "
                   "(docs/program.md); default: a new laterality-phase program")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--headless", action="store_true",
                      help="offscreen, scripted limb motion, screenshots of each scene")
    mode.add_argument("--desktop", action="store_true", help="the desktop window (default "
                      "when there is a desktop)")
    p.add_argument("--script", metavar="FILE", help="JSON list of [time_s, action] patient "
                   "inputs (default headless: a demo patient confirms every question)")
    p.add_argument("--out", default=None, help="output folder (default: data.out_dir)")
    p.add_argument("--block-seconds", type=float, default=None, metavar="S",
                   help="cap every timed block at S seconds (quick demos)")
    p.add_argument("--realtime", action="store_true", help="headless: pace the frames at the "
                   "display rate, as a headset would (default: as fast as the machine goes)")
    p.add_argument("--override-limit", action="store_true", help="the therapist's override: "
                   "run a session past the program's sessions per day")
    p.add_argument("--follow-up", nargs="?", const="due", default=None, metavar="VISIT",
                   help="a follow-up visit instead of training: the battery's 0-10 ratings, "
                   "then one laterality block; VISIT a time point (e.g. fu_3m), default the "
                   "visit due (docs/outcomes.md)")

    p = sub.add_parser("export", help="export a patient's records (CSV, FHIR R4 JSON, PDF)")
    _settings_args(p, patient=False)
    p.add_argument("patient", metavar="PATIENT", help="pseudonymous patient id")
    p.add_argument("--format", choices=("csv", "fhir", "pdf"), default="csv")
    p.add_argument("--out", default=None, help="output file or folder (default: here)")
    p.add_argument("--unblinded", action="store_true",
                   help="study allocations with their conditions, not only their codes "
                        "(csv, fhir; docs/study-conditions.md)")
    p.add_argument("--database", metavar="URL", default=None,
                   help="records database URL (default: data.database_url, else SQLite in "
                        "the user data directory)")

    p = sub.add_parser("outcomes", help="the clinic's outcomes: responders, visits due; "
                       "--out writes the clinic report PDF and CSV (docs/outcomes.md)")
    _settings_args(p, patient=False)
    p.add_argument("--patients", default="", help="only these patients (comma-separated ids)")
    p.add_argument("--out", default=None, help="folder for clinic-outcomes.pdf and the CSV tables")
    p.add_argument("--database", metavar="URL", default=None,
                   help="records database URL (default: data.database_url)")

    p = sub.add_parser("bids", help="write sessions' events as BIDS events files, from "
                       "events logs or the records (docs/research.md)")
    _settings_args(p, patient=False)
    p.add_argument("logs", nargs="*", metavar="EVENTS", help="a session's events-*.jsonl log")
    p.add_argument("--patient", metavar="PATIENT", help="from the records: this patient's "
                   "sessions")
    p.add_argument("--session", dest="sessions", action="append", default=[], metavar="ID",
                   help="with --patient: only this session (repeatable; default: all)")
    p.add_argument("--database", metavar="URL", default=None,
                   help="records database URL (default: data.database_url)")
    p.add_argument("--out", default="bids", help="the BIDS dataset folder (default: bids)")
    p.add_argument("--task", default="gmi", help="the BIDS task label (default: gmi)")

    p = sub.add_parser("patients", help="list, show or delete the patients in the records")
    _settings_args(p, patient=False)
    p.add_argument("action", nargs="?", choices=("list", "show", "delete"), default="list")
    p.add_argument("patient", nargs="?", metavar="PATIENT", help="pseudonymous patient id")
    p.add_argument("--yes", action="store_true", help="confirm a deletion (it cannot be undone)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--database", metavar="URL", default=None,
                   help="records database URL (default: data.database_url)")

    p = sub.add_parser("stimuli", help="render laterality pictures offscreen (PNG, index.json) "
                                       "and printable flash cards")
    _one_line_errors(p)
    _settings_args(p, patient=False)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the pictures "
                   "(new, empty, or an earlier set, which is replaced)")
    p.add_argument("--limb", choices=("hand", "foot", "both"), default="hand",
                   help="which limbs (default hand)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--canonical", action="store_true", help="every limb x side x view x "
                       "posture, upright (0 deg)")
    which.add_argument("--count", type=int, metavar="N", help="a sample of N pictures drawn "
                       "as the game draws a block (give --seed)")
    p.add_argument("--seed", type=int, metavar="S", help="the sample's seed: the same seed "
                   "gives the same pictures")
    p.add_argument("--size", type=int, default=512, metavar="PX",
                   help="picture width and height in pixels (default 512)")
    p.add_argument("--skin-tone", metavar="T", help="Fitzpatrick type I-VI, a name (pale .. "
                   "dark), a palette name or #rrggbb (default: patient.skin_tone)")
    p.add_argument("--pdf", action="store_true", help="also write cards.pdf: flash cards, "
                   "picture on the front, answer on the back (print double-sided, long edge)")
    p.add_argument("--shape", action="append", default=[], metavar="KEY=VALUE",
                   help="the patient's limb shape, repeatable: build, muscle, sex (-1..1), "
                        "age_years, hand_size, foot_size (default: the average limbs)")

    p = sub.add_parser("doctor", help="report what this machine offers (GL, display, OpenXR, "
                                      "database)")
    _settings_args(p, patient=False)
    p.add_argument("--settings", action="store_true", help="also list every setting")
    for command_parser in (parser, *sub.choices.values()):     # every command: one line
        _one_line_errors(command_parser)
    return parser


def _one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Make ``parser`` report a bad argument in one line (exit status 2), without usage."""
    name = parser.prog.split()[-1]
    prefix = "vrgmi: " if name == "vrgmi" else f"vrgmi: {name}: "

    def error(message: str):
        line = prefix + " ".join(message.split())
        parser.exit(2, (line if len(line) <= 200 else line[:197] + "...") + "\n")
    parser.error = error


def cmd_stimuli(args: argparse.Namespace) -> int:
    from vrgmi.laterality.stimulus_sets import COUNT_RANGE, canonical_set, sample_set
    from vrgmi.render.display import open_display
    from vrgmi.render.skin import skin_tone
    from vrgmi.render.stimulus_render import SIZE_RANGE
    from vrgmi.stimulus_pictures import check_out, write_stimulus_set
    if not args.canonical and args.count is None:
        raise VrgmiError("stimuli: give --canonical or --count N --seed S")
    if args.canonical and args.seed is not None:
        raise VrgmiError("stimuli: --seed goes with --count, not --canonical")
    if args.count is not None and args.seed is None:
        raise VrgmiError("stimuli: --count needs --seed S (the same seed gives the same set)")
    if args.count is not None and not COUNT_RANGE[0] <= args.count <= COUNT_RANGE[1]:
        raise VrgmiError(f"stimuli: --count must be {COUNT_RANGE[0]}..{COUNT_RANGE[1]}")
    if not SIZE_RANGE[0] <= args.size <= SIZE_RANGE[1]:
        raise VrgmiError(f"stimuli: --size must be {SIZE_RANGE[0]}..{SIZE_RANGE[1]} px")
    if args.skin_tone is not None:
        skin_tone(args.skin_tone)                       # a one-line error before rendering
        args.overrides.append(f"patient.skin_tone={args.skin_tone}")
    args.overrides.extend(_shape_overrides(args.shape))
    settings = _settings(args)
    check_out(Path(args.out))
    limbs = ("hand", "foot") if args.limb == "both" else (args.limb,)
    if args.canonical:
        stimuli, about = canonical_set(limbs), {"set": "canonical", "seed": None}
    else:
        stimuli = sample_set(limbs, args.count, args.seed)
        about = {"set": "sample", "seed": args.seed}
    display = open_display("headless", size=(16, 16), title="vrgmi stimuli")
    try:
        if not display.shaders:
            _progress("vrgmi: no OpenGL shaders here: the pictures are drawn flat")
        write_stimulus_set(display.base, settings, stimuli, Path(args.out), args.size,
                           args.pdf, {**about, "limbs": list(limbs)}, progress=_progress)
    finally:
        display.close()
    return 0


def _shape_overrides(pairs: list[str]) -> list[str]:
    """``--shape KEY=VALUE`` options as ``limb_shape.KEY=VALUE`` settings overrides (the
    values are range-checked when the settings load)."""
    from vrgmi.body.limb_shape import SHAPE_KEYS
    overrides = []
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or key.strip() not in SHAPE_KEYS:
            raise VrgmiError(f"stimuli: --shape takes KEY=VALUE with KEY one of "
                             f"{', '.join(SHAPE_KEYS)} (not {pair!r})")
        overrides.append(f"limb_shape.{key.strip()}={value.strip()}")
    return overrides


def cmd_doctor(args: argparse.Namespace) -> int:
    from vrgmi.doctor import run_doctor
    settings = _settings(args)
    for finding in run_doctor(settings.data.database_url):
        print(finding.line())
    if args.settings:
        print()
        print(describe_settings())
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from vrgmi.core import dump_replay
    settings = _settings(args)
    n = dump_replay(Path(args.input), Path(args.dump), settings, progress=_progress)
    print(f"wrote {args.dump}: {n} frames")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from vrgmi.tracking.record import record_source
    from vrgmi.tracking.scripted import ScriptedSource
    if not 1.0 <= args.rate <= 1000.0 or not 0.0 < args.seconds <= 3600.0:
        raise VrgmiError("record: --rate must be 1..1000 Hz and --seconds 0..3600")
    source = ScriptedSource(args.motion, intact_side=args.intact, rate_hz=args.rate,
                            duration_s=args.seconds)
    n = record_source(source, Path(args.output), rate_hz=args.rate, seconds=args.seconds)
    print(f"wrote {args.output}: {n} frames of '{args.motion}'")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from vrgmi.bench import format_table, run_bench
    results = run_bench(quick=args.quick, progress=None if args.json else _progress)
    print(json.dumps(results, sort_keys=True) if args.json else format_table(results))
    return 0


def _out_dir(path: str | Path, command: str) -> Path:
    """An output folder: one line if it names an existing file."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise VrgmiError(f"{command}: --out {out} is a file; give a folder")
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from vrgmi.render.display import has_desktop_display
    if args.seconds is not None and not 0.0 < args.seconds <= 3600.0:
        raise VrgmiError("run: --seconds must be more than 0 and at most 3600")
    settings = _settings(args)
    mode = settings.display.mode
    out = _out_dir(settings.data.out_dir, "run")
    if mode in ("auto", "xr"):
        from vrgmi.clinic import run_xr_session
        from vrgmi.tracking.openxr import XrUnavailableError
        from vrgmi.xr_app import format_xr_report
        try:
            print(format_xr_report(run_xr_session(settings, None, out, args.seconds,
                                                  _progress)))
            return 0
        except XrUnavailableError as exc:
            _progress(f"vrgmi: no headset ({exc}); using the desktop window or headless mode")
    if mode in ("auto", "xr", "desktop") and has_desktop_display():
        return _session(settings, None, None, "desktop", args.seconds, out)
    from vrgmi.clinic import format_demo_report, run_demo_sessions
    _progress(f"vrgmi: no display here; running a headless demo session per GMI phase "
              f"into {out}/")
    print(format_demo_report(run_demo_sessions(settings, out, block_seconds=args.seconds or 12.0,
                                               progress=_progress)))
    return 0


def _session(settings, program_path, script_path, mode: str, seconds: float | None,
             out: Path, block_seconds: float | None = None, realtime: bool = False,
             override_limit: bool = False, follow_up: str | None = None) -> int:
    """One GMI session of the patient's program with the records and the companion
    (``follow_up``: a visit's time point, or ``due``: a follow-up visit instead)."""
    from vrgmi.clinic import ClinicServices, load_input_script, run_session
    script = load_input_script(script_path) if script_path else None
    services = ClinicServices.open(settings, _progress)
    try:
        program = services.program(settings, program_path)
        services.check_sessions_today(program, override_limit)
        visit = (services.follow_up(settings, program, None if follow_up == "due" else follow_up)
                 if follow_up is not None else None)
        summary = run_session(settings, program, out, mode, script, block_seconds,
                              max_seconds=seconds or 3600.0, progress=_progress,
                              services=services, realtime=realtime, follow_up=visit)
    finally:
        services.close()
    print(json.dumps(summary, indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from vrgmi.app import format_report, run_demo
    settings = _settings(args)
    out = _out_dir(args.out or settings.data.out_dir, "demo")
    print(format_report(run_demo(settings, frames=args.frames, out_dir=out, motion=args.motion,
                                 progress=_progress)))
    return 0


def _param_line(p: dict) -> str:
    if p["kind"] in ("int", "float"):
        unit = f" {p['unit']}" if p.get("unit") else ""
        bounds = f"{p['lo']:g}..{p['hi']:g}{unit}"
    elif p["kind"] == "choice":
        bounds = "|".join(p["choices"])
    else:
        bounds = "true|false"
    return f"    {p['name']:<18} {p['kind']:<6} default {p['default']!s:<8} {bounds:<16} {p['help']}"


def cmd_scenes(args: argparse.Namespace) -> int:
    from vrgmi.scenes import available_scenes
    problems: list[str] = []
    scenes = available_scenes(problems)
    if args.json:
        print(json.dumps([dict(c.describe(), name=n) for n, c in scenes.items()]))
    else:
        for name, cls in scenes.items():
            print(f"{name:<16} {cls.phase:<13} {cls.description}")
            for p in cls.describe()["params"]:
                print(_param_line(p))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 2 if problems else 0


def cmd_session(args: argparse.Namespace) -> int:
    from vrgmi.render.display import has_desktop_display
    settings = _settings(args)
    if args.block_seconds is not None and not 0.5 <= args.block_seconds <= 1800:
        raise VrgmiError("session: --block-seconds must be 0.5..1800")
    desktop = args.desktop or (not args.headless and has_desktop_display())
    return _session(settings, args.program, args.script, "desktop" if desktop else "headless",
                    None, _out_dir(args.out or settings.data.out_dir, "session"),
                    args.block_seconds,
                    args.realtime, args.override_limit, args.follow_up)


def _records(args: argparse.Namespace):
    from vrgmi.records import open_database
    url = args.database if args.database is not None else _settings(args).data.database_url
    return open_database(url)


def cmd_export(args: argparse.Namespace) -> int:
    from vrgmi.export import export_patient
    from vrgmi.records.queries import report_norms
    db = _records(args)
    try:
        paths = export_patient(db, args.patient, args.format,
                               Path(args.out) if args.out else None, progress=_progress,
                               norms=report_norms(_settings(args).norms),
                               unblinded=args.unblinded)
    finally:
        db.close()
    for path in paths:
        print(f"wrote {path}")
    return 0


def cmd_outcomes(args: argparse.Namespace) -> int:
    from vrgmi.export.clinic_report import export_clinic, summary_lines
    from vrgmi.outcomes.schedule import Rules
    from vrgmi.outcomes.store import clinic_outcomes
    rules = Rules.from_settings(_settings(args).outcomes)
    ids = [i.strip() for i in args.patients.split(",") if i.strip()] or None
    db = _records(args)
    try:
        data = clinic_outcomes(db, rules=rules, ids=ids)
        print("\n".join(summary_lines(data)))
        paths = export_clinic(db, Path(args.out), rules=rules, outcomes=data) if args.out else []
    finally:
        db.close()
    for path in paths:
        print(f"wrote {path}")
    return 0


def cmd_bids(args: argparse.Namespace) -> int:
    from vrgmi.events import read_events
    from vrgmi.export.bids_events import write_bids_events
    if not args.logs and not args.patient:
        raise VrgmiError("bids: give events logs, or --patient (and --session) for the records")
    if args.sessions and not args.patient:
        raise VrgmiError("bids: --session needs --patient")
    sessions = []
    for log in args.logs:
        try:
            sessions.append(list(read_events(Path(log))))
        except OSError as exc:
            raise VrgmiError(f"bids: cannot read {log} ({exc.strerror})") from None
    if args.patient:
        from vrgmi.records.queries import list_sessions
        from vrgmi.records.session_events import stored_events
        db = _records(args)
        try:
            ids = args.sessions or [r["id"] for r in list_sessions(db, args.patient)
                                    if r["scenes"]]
            if not ids:
                raise VrgmiError(f"bids: patient {args.patient!r} has no sessions with "
                                 "blocks in the records")
            sessions += [stored_events(db, args.patient, i) for i in ids]
        finally:
            db.close()
    for events in sessions:
        for path in write_bids_events(events, Path(args.out), args.task):
            print(f"wrote {path}")
    return 0


def cmd_patients(args: argparse.Namespace) -> int:
    from vrgmi.records import queries
    if args.action != "list" and not args.patient:
        raise VrgmiError(f"patients {args.action}: give the patient id")
    db = _records(args)
    try:
        if args.action == "list":
            rows = queries.list_patients(db)
            if args.json:
                print(json.dumps(rows))
            for r in [] if args.json else rows:
                print(f"{r['id']:<16} {r['amputation_side']:<6} {r['amputation_level']:<26} "
                      f"{r['sessions']:>4} sessions  last {r['last_session'] or '-'}  "
                      f"phase {r['phase'] or '-'}")
            if not rows and not args.json:
                print(f"no patients in {db.where}")
        elif args.action == "show":
            info = queries.get_patient(db, args.patient)
            info["sessions_list"] = queries.list_sessions(db, args.patient)
            print(json.dumps(info, indent=None if args.json else 2))
        else:
            counts = queries.patient_row_counts(db, args.patient)
            if not counts["patients"]:
                queries.get_patient(db, args.patient)      # the one-line unknown-patient error
            if not args.yes:
                raise VrgmiError(f"patients delete: this removes {sum(counts.values())} rows of "
                                 f"{args.patient} for good; add --yes to confirm")
            removed = queries.delete_patient(db, args.patient, by="cli")
            print(f"deleted {args.patient}: {sum(removed.values())} rows "
                  f"({removed['sessions']} sessions, {removed['trials']} trials)")
    finally:
        db.close()
    return 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


COMMANDS = {"run": cmd_run, "demo": cmd_demo, "replay": cmd_replay, "record": cmd_record,
            "bench": cmd_bench, "scenes": cmd_scenes, "export": cmd_export, "doctor": cmd_doctor,
            "session": cmd_session, "patients": cmd_patients, "stimuli": cmd_stimuli,
            "bids": cmd_bids, "outcomes": cmd_outcomes}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `vrgmi` console script."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except VrgmiError as exc:
        print(one_line(f"vrgmi: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vrgmi: stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
