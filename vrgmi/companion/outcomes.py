"""The companion's outcome pages: the battery form, a patient's visits and change, the clinic's
responder analysis, visits due, charts and exports (issue 17; docs/outcomes.md).

:class:`OutcomeRecords` is what the routes ask of the records (it runs off the asyncio loop:
database reads and charts block); :class:`OutcomeRoutes` adds the routes to the companion's
app. Every route needs a paired device (the companion's middlewares), every body goes through
the bounded JSON parser, every value is checked by :mod:`vrgmi.outcomes` before anything is
stored, and every read or write of patient data leaves one audit row (without the answers).
"""
from __future__ import annotations

import io
import logging
import zipfile
from datetime import date
from typing import TYPE_CHECKING, Any

from aiohttp import web

from vrgmi.companion.live import dumps
from vrgmi.ids import PATIENT_ID_RULE, is_patient_id
from vrgmi.outcomes.analysis import PRIMARY
from vrgmi.outcomes.battery import MEASURES, Measure, OutcomeError, battery_or_builtin
from vrgmi.outcomes.schedule import BASELINE, Rules, label, order_key, timepoints

if TYPE_CHECKING:
    from vrgmi.companion.server import Companion

CLINIC_PLOTS = ("responders", "change")
CLINIC_EXPORTS = {"csv": ("csv.zip", "application/zip"), "pdf": ("pdf", "application/pdf")}
MAX_FILTER = 500                  # patient ids in a clinic filter
log = logging.getLogger("vrgmi.companion")


class OutcomeRecords:
    """The outcome data the companion reads and writes, over the records database."""

    def __init__(self, db: Any, rules: Rules | None = None,
                 measures: dict[str, Measure] | None = None, texts_error: str = "") -> None:
        self.db = db
        self.rules = rules or Rules()
        self.measures = measures or MEASURES
        #: why the clinic's item texts file could not be used ("" when it could, or none)
        self.texts_error = texts_error

    @classmethod
    def from_settings(cls, db: Any, settings: Any) -> OutcomeRecords:
        """With the ``[outcomes]`` rules and the clinic's item texts file, if any; a file
        that cannot be used leaves the built-in texts, its one line on the console and on
        the battery form."""
        measures, error = battery_or_builtin(settings)
        if error:
            log.warning("vrgmi: %s; the battery form shows the built-in texts", error)
        return cls(db, Rules.from_settings(settings.outcomes), measures, error)

    def battery(self) -> dict[str, Any]:
        """The form: every measure with its items, the time points in order, and
        ``texts_error`` (the clinic's texts file's one-line error; the built-in texts are
        shown then)."""
        return {"measures": [m.describe() for m in self.measures.values()],
                "texts_error": self.texts_error,
                "timepoints": [{"id": tp, "label": label(tp)}
                               for tp in timepoints(self.rules.followup_months)]}

    def patient(self, patient_id: str) -> dict[str, Any]:
        """The patient's plan, visits, answers and change from baseline."""
        from vrgmi.outcomes.store import patient_outcomes

        return patient_outcomes(self.db, patient_id, rules=self.rules)

    def set_plan(self, patient_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Change the plan from a request body (``measures``, ``followup_months``,
        ``treatment_ended``; any other key is refused)."""
        from vrgmi.outcomes.store import set_plan

        allowed = {"measures", "followup_months", "treatment_ended"}
        if not body or set(body) - allowed:
            raise OutcomeError(f"outcomes: a plan changes {', '.join(sorted(allowed))}")
        return set_plan(self.db, patient_id, rules=self.rules, **body)

    def record(self, patient_id: str, timepoint: Any, answers: Any, by: str
               ) -> list[dict[str, Any]]:
        """Store a visit's answers (checked and scored first)."""
        from vrgmi.outcomes.store import record_visit

        return record_visit(self.db, patient_id, timepoint, answers, by, rules=self.rules)

    def patient_plot(self, patient_id: str) -> bytes:
        """The patient's outcome chart as PNG."""
        from vrgmi.export.outcome_plots import figure_patient
        from vrgmi.export.plots import figure_bytes

        return figure_bytes(figure_patient(self.patient(patient_id)))

    def _clinic(self, ids: list[str] | None) -> dict[str, Any]:
        from vrgmi.outcomes.store import clinic_outcomes

        return clinic_outcomes(self.db, rules=self.rules, ids=ids)

    def clinic(self, ids: list[str] | None = None) -> dict[str, Any]:
        """The responder analysis, the visits due, and one line per patient."""
        data = self._clinic(ids)
        rows = []
        for p in data["patients"]:
            rec = p["record"]
            base = rec.get(BASELINE, {}).get(PRIMARY)
            later = [tp for tp in sorted(rec, key=order_key)
                     if tp != BASELINE and PRIMARY in rec[tp]]
            nxt = next((v for v in p["visits"] if v["status"] != "done"), None)
            rows.append({"id": p["id"], "phase": p["phase"], "baseline": base,
                         "latest": rec[later[-1]][PRIMARY] if later else None,
                         "latest_timepoint": later[-1] if later else None, "next": nxt})
        return {"today": data["today"], "summary": data["summary"], "due": data["due"],
                "patients": rows}

    def clinic_plot(self, name: str, ids: list[str] | None = None) -> bytes:
        """One clinic chart (:data:`CLINIC_PLOTS`) as PNG."""
        from vrgmi.export.outcome_plots import figure_change, figure_responders
        from vrgmi.export.plots import figure_bytes

        data = self._clinic(ids)
        fig = (figure_responders(data["summary"]) if name == "responders"
               else figure_change(data["patients"], data["summary"]))
        return figure_bytes(fig)

    def clinic_export(self, fmt: str, ids: list[str] | None = None) -> bytes:
        """The clinic's outcomes as a ZIP of CSV tables or the report PDF."""
        from vrgmi.export.clinic_report import clinic_report_bytes
        from vrgmi.export.outcomes_csv import clinic_csv_files

        data = self._clinic(ids)
        if fmt == "pdf":
            return clinic_report_bytes(self.db, rules=self.rules, outcomes=data)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in clinic_csv_files(self.db, outcomes=data).items():
                z.writestr(name, text)
        return buffer.getvalue()


def _filter(request: web.Request) -> list[str] | None:
    """``?patients=P01,P02``: only these patients (every id checked), else everyone."""
    raw = request.query.get("patients")
    if raw is None or raw == "":
        return None
    ids = raw.split(",")
    if len(ids) > MAX_FILTER or not all(is_patient_id(i) for i in ids):
        raise web.HTTPBadRequest(text=f"companion: patients is a comma-separated list of at "
                                      f"most {MAX_FILTER} ids; each {PATIENT_ID_RULE}")
    return ids


class OutcomeRoutes:
    """The outcome routes of one :class:`~vrgmi.companion.server.Companion`."""

    def __init__(self, companion: Companion) -> None:
        self.c = companion

    def add_to(self, router: web.UrlDispatcher) -> None:
        """Register every route."""
        router.add_get("/api/outcomes", self.clinic)
        router.add_get("/api/outcomes/battery", self.battery)
        router.add_get("/api/outcomes/plots/{plot}.png", self.clinic_plot)
        router.add_get("/api/outcomes/export/{fmt}", self.clinic_export)
        router.add_get("/api/patients/{pid}/outcomes", self.patient)
        router.add_post("/api/patients/{pid}/outcomes", self.record)
        router.add_post("/api/patients/{pid}/outcomes/plan", self.plan)
        router.add_get("/api/patients/{pid}/outcomes/plot.png", self.patient_plot)

    def _outcomes(self) -> OutcomeRecords:
        from vrgmi.companion.records import RecordsUnavailable

        outcomes = getattr(self.c._records(), "outcomes", None)
        if outcomes is None:
            raise RecordsUnavailable("companion: these records keep no outcomes")
        return outcomes

    async def battery(self, request: web.Request) -> web.Response:
        """GET /api/outcomes/battery: the measures, their items and the time points."""
        return web.json_response(self._outcomes().battery(), dumps=dumps)

    async def patient(self, request: web.Request) -> web.Response:
        """GET /api/patients/{pid}/outcomes (audited read)."""
        pid = self.c._pid(request)
        out = self._outcomes()
        data = await self.c._read(request, "read_outcomes", {"patient": pid}, pid, out.patient,
                                  pid)
        return web.json_response(data, dumps=dumps)

    async def record(self, request: web.Request) -> web.Response:
        """POST /api/patients/{pid}/outcomes {"timepoint", "answers": {measure: answers}}:
        201 with the stored rows (audited without the answers)."""
        from vrgmi.companion.server import TOKEN_KEY, _json_body

        pid = self.c._pid(request)
        body = await _json_body(request)
        tp, answers = body.get("timepoint"), body.get("answers")
        args = {"patient": pid, "timepoint": str(tp)[:16],
                "measures": ",".join(sorted(str(k)[:24] for k in answers)[:len(MEASURES)])
                if isinstance(answers, dict) else ""}
        rows = await self.c._read(request, "outcome_visit", args, pid, self._outcomes().record,
                                  pid, tp, answers, f"companion:{request[TOKEN_KEY].id}")
        return web.json_response({"stored": rows}, status=201, dumps=dumps)

    async def plan(self, request: web.Request) -> web.Response:
        """POST /api/patients/{pid}/outcomes/plan {"measures"?, "followup_months"?,
        "treatment_ended"?} (audited)."""
        from vrgmi.companion.server import _json_body

        pid = self.c._pid(request)
        body = await _json_body(request)
        args = {"patient": pid, "keys": ",".join(sorted(str(k)[:24] for k in body)[:4])}
        plan = await self.c._read(request, "outcome_plan", args, pid,
                                  self._outcomes().set_plan, pid, body)
        return web.json_response(plan, dumps=dumps)

    async def patient_plot(self, request: web.Request) -> web.Response:
        """GET /api/patients/{pid}/outcomes/plot.png (audited read)."""
        pid = self.c._pid(request)
        png = await self.c._read(request, "read_outcome_plot", {"patient": pid}, pid,
                                 self._outcomes().patient_plot, pid)
        return web.Response(body=png, content_type="image/png")

    async def clinic(self, request: web.Request) -> web.Response:
        """GET /api/outcomes[?patients=...]: responders, visits due, patients (audited)."""
        ids = _filter(request)
        data = await self.c._read(request, "read_clinic_outcomes",
                                  {"patients": len(ids) if ids else "all"}, None,
                                  self._outcomes().clinic, ids)
        return web.json_response(data, dumps=dumps)

    async def clinic_plot(self, request: web.Request) -> web.Response:
        """GET /api/outcomes/plots/{responders|change}.png[?patients=...] (audited)."""
        plot = request.match_info["plot"]
        if plot not in CLINIC_PLOTS:
            raise web.HTTPNotFound(text=f"companion: clinic charts are {', '.join(CLINIC_PLOTS)}")
        ids = _filter(request)
        png = await self.c._read(request, "read_clinic_plot", {"plot": plot}, None,
                                 self._outcomes().clinic_plot, plot, ids)
        return web.Response(body=png, content_type="image/png")

    async def clinic_export(self, request: web.Request) -> web.Response:
        """GET /api/outcomes/export/{csv|pdf}[?patients=...]: a download (audited)."""
        fmt = request.match_info["fmt"]
        if fmt not in CLINIC_EXPORTS:
            raise web.HTTPNotFound(text=f"companion: clinic exports are "
                                        f"{', '.join(CLINIC_EXPORTS)}")
        ids = _filter(request)
        body = await self.c._read(request, "export_clinic_outcomes", {"format": fmt}, None,
                                  self._outcomes().clinic_export, fmt, ids)
        suffix, kind = CLINIC_EXPORTS[fmt]
        return web.Response(body=body, headers={
            "Content-Type": kind,
            "Content-Disposition": f'attachment; filename="vrgmi-clinic-outcomes-'
                                   f'{date.today().isoformat()}.{suffix}"'})

