"""Exports of a patient's records: CSV (:mod:`csv_export`), an FHIR R4 Bundle (:mod:`fhir`,
built with R4B models) and a progress report PDF (:mod:`report_pdf`) with the charts of
:mod:`plots` (also served by the companion). :func:`export_patient` is what ``vrgmi export``
and the companion call. See docs/exports.md.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vrgmi.records.db import Database

FORMATS = ("csv", "fhir", "pdf")


def export_patient(db: Database, patient_id: str, fmt: str, out: Path | None = None,
                   progress: Callable[[str], None] | None = None,
                   norms: dict[str, float] | None = None,
                   unblinded: bool = False) -> list[Path]:
    """Export one patient in ``fmt`` (csv | fhir | pdf) and return the files written;
    ``norms`` (:func:`vrgmi.records.queries.report_norms`) for the PDF's charts. Study
    allocations are blinded (condition codes only) unless ``unblinded`` (CSV and FHIR; the
    PDF report is always blinded), docs/study-conditions.md.

    ``out``: a folder for CSV (default ``.``), a file (or a folder to put
    ``PATIENT-fhir.json`` / ``PATIENT-report.pdf`` in) for the others.
    """
    from vrgmi.atomic import AtomicWriteError
    from vrgmi.records.db import RecordsError
    from vrgmi.records.queries import get_patient
    if fmt not in FORMATS:
        raise RecordsError(f"export: format {fmt!r} is not one of {', '.join(FORMATS)}")
    get_patient(db, patient_id)             # a one-line error for an unknown patient
    if unblinded and fmt == "pdf":
        raise RecordsError("export: the PDF report is always blinded; export csv or fhir "
                           "unblinded")
    if fmt == "csv":
        from vrgmi.atomic import write_text
        from vrgmi.export.csv_export import export_csv
        from vrgmi.export.study_export import study_csv
        try:
            paths = export_csv(db, patient_id, Path(out or "."))
            study = study_csv(db, patient_id, unblinded)
            if study is not None:
                paths.append(write_text(Path(out or ".") / f"{patient_id}-study.csv", study,
                                        "export"))
            return paths
        except AtomicWriteError:
            raise
        except OSError as exc:
            raise RecordsError(f"export: cannot write to {out or '.'} ({exc.strerror})") \
                from None
    name = f"{patient_id}-fhir.json" if fmt == "fhir" else f"{patient_id}-report.pdf"
    path = Path(out) if out is not None else Path(name)
    if path.is_dir():
        path = path / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "fhir":
            from vrgmi.export.fhir import write_bundle
            return [write_bundle(db, patient_id, path, unblinded)]
        from vrgmi.export.report_pdf import write_report
        write_report(db, patient_id, path, progress, norms)
        return [path]
    except AtomicWriteError:
        raise
    except OSError as exc:
        raise RecordsError(f"export: cannot write {path} ({exc.strerror})") from None
