"""Bring the translation catalogs (vrgmi/locale/<lang>/LC_MESSAGES/vrgmi.po) up to date with
the patient-facing texts in the sources (docs/accessibility.md):

    .venv/bin/python tools/update_catalog.py

New texts are added untranslated (tests/test_i18n.py then fails until a translator fills
them in); texts no longer used are dropped; translations of unchanged texts are kept.
"""
from __future__ import annotations

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from vrgmi.i18n import DOMAIN, SOURCE_LANGUAGE, catalog_path, patient_messages
from vrgmi.settings import LANGUAGES


def template() -> Catalog:
    """A catalog of every patient-facing message, untranslated."""
    catalog = Catalog(domain=DOMAIN, project="vrgmi", locale=SOURCE_LANGUAGE)
    for context, message in sorted(patient_messages(), key=lambda m: (m[0] or "", m[1])):
        catalog.add(message, context=context)
    return catalog


def main() -> None:
    pot = template()
    for language in LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        path = catalog_path(language)
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=language)
        catalog.update(pot, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with path.open("wb") as fh:
            write_po(fh, catalog, width=96, sort_output=True)
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{path}: {len(catalog)} messages, {len(missing)} untranslated")


if __name__ == "__main__":
    main()
