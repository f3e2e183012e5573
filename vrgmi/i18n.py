"""Translation of every patient-facing text (GNU gettext; docs/accessibility.md).

English is the source language: a message id *is* its English text. Other languages have a
gettext catalog ``vrgmi/locale/<lang>/LC_MESSAGES/vrgmi.po`` (shipped in the wheel as package
data, so it is found from a checkout and from an installed wheel alike), compiled with Babel
the first time a language is chosen.

* ``_("text")`` translates now, into the language chosen with :func:`set_language` (the
  ``ui.language`` setting; :meth:`vrgmi.scenes.base.Scene.setup` applies it);
* ``N_("text")`` only marks a module-level constant for extraction; translate it where it is
  shown, ``_(CONSTANT)``.

Messages with values use named fields, ``_("Trial {n} of {total}").format(n=..., total=...)``,
so a translation may reorder them. No Panda3D.
"""
from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from vrgmi.errors import VrgmiError
from vrgmi.settings import LANGUAGES

DOMAIN = "vrgmi"
SOURCE_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


class I18nError(VrgmiError):
    """A language has no catalog or its catalog cannot be read."""


_translations: gettext.NullTranslations = gettext.NullTranslations()
_language = SOURCE_LANGUAGE


def catalog_path(language: str) -> Path:
    """The ``.po`` catalog of ``language``."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.lru_cache(maxsize=None)
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` (English: the identity)."""
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    if language not in LANGUAGES:
        raise I18nError(f"i18n: no language {language!r}; choose one of {', '.join(LANGUAGES)}")
    path = catalog_path(language)
    try:
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=language)
    except FileNotFoundError:
        raise I18nError(f"i18n: the {language} catalog {path} is missing") from None
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def set_language(language: str) -> None:
    """Translate from now on into ``language`` (one of :data:`vrgmi.settings.LANGUAGES`)."""
    global _translations, _language
    _translations = translations(language)
    _language = language


def language() -> str:
    """The language texts are translated into now."""
    return _language


def _(message: str) -> str:
    """``message`` (English) in the current language."""
    return _translations.gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for translation where it is shown (returns it unchanged)."""
    return message
