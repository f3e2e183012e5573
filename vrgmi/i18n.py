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


#: the translation functions, as Babel's extractor sees them
KEYWORDS = {"_": None, "N_": None, "pgettext": ((1, "c"), 2)}


def source_messages() -> set[tuple[str | None, str]]:
    """Every (context, message) marked in vrgmi's sources (``_``, ``N_``, ``pgettext``)."""
    from babel.messages.extract import extract_from_dir

    root = Path(__file__).resolve().parent
    return {(context, message) for _file, _line, message, _comments, context in
            extract_from_dir(root, method_map=[("**.py", "python")], keywords=KEYWORDS)
            if isinstance(message, str)}


def data_messages() -> set[tuple[str | None, str]]:
    """The patient-facing texts kept as data and translated where shown: the SSQ symptoms
    and answers, the NRS anchors, the KVIQ questions and anchors, and every imagery
    movement's name, instructions and cue."""
    from vrgmi.imagery.kviq import ANCHORS, QUESTIONS
    from vrgmi.imagery.movements import LIBRARY
    from vrgmi.measures.questionnaires import NRS_ANCHORS, SSQ_ITEMS, SSQ_LEVELS

    texts = [*SSQ_ITEMS, *SSQ_LEVELS, *NRS_ANCHORS, *QUESTIONS.values()]
    texts += [a for table in ANCHORS.values() for a in table.values()]
    texts += [t for m in LIBRARY.values() for t in (m.name, m.instructions, m.cue)]
    return {(None, t) for t in texts}


def patient_messages() -> set[tuple[str | None, str]]:
    """Everything a catalog must translate: :func:`source_messages` and
    :func:`data_messages`."""
    return source_messages() | data_messages()


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


def pgettext(context: str, message: str) -> str:
    """``message`` (English) in the current language, in ``context`` (e.g. a grammatical
    form the translation needs)."""
    return _translations.pgettext(context, message)


def side_words(side: str) -> dict[str, str]:
    """Format fields for a sentence about the patient's ``side`` ("left" / "right"):
    ``side`` (the plain word) and the inflected adjective forms a translation may need
    (German: ``side_e`` linke, ``side_en`` linken, ``side_es`` linkes, ``side_er`` linker,
    ``side_em`` linkem); English uses ``{side}`` only."""
    if side == "left":
        return {"side": _("left"), "side_e": pgettext("adjective -e", "left"),
                "side_en": pgettext("adjective -en", "left"),
                "side_es": pgettext("adjective -es", "left"),
                "side_er": pgettext("adjective -er", "left"),
                "side_em": pgettext("adjective -em", "left")}
    return {"side": _("right"), "side_e": pgettext("adjective -e", "right"),
            "side_en": pgettext("adjective -en", "right"),
            "side_es": pgettext("adjective -es", "right"),
            "side_er": pgettext("adjective -er", "right"),
            "side_em": pgettext("adjective -em", "right")}


def for_side(template: str, side: str) -> str:
    """``template`` (English, with ``{side}``) translated and filled in for ``side``."""
    return _(template).format(**side_words(side))
