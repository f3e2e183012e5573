"""Translation: the shipped German catalog covers every patient-facing text with the same
format fields, is found from the package, and a scene rendered with ``ui.language = de``
shows German text."""
from __future__ import annotations

import string
from importlib.resources import files

import pytest
from babel.messages.pofile import read_po

from vrgmi import i18n
from vrgmi.app import Engine
from vrgmi.errors import VrgmiError
from vrgmi.render.display import grab_rgba
from vrgmi.scenes.laterality import LateralityScene
from vrgmi.scenes.nrs import PainNRS
from vrgmi.settings import LANGUAGES, load_settings
from vrgmi.tracking.scripted import ScriptedSource

RATE = 90.0
#: the adjective forms a translation may use where the English says {side}
SIDE_FIELDS = set(i18n.side_words("left"))


def _fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


@pytest.fixture(autouse=True)
def _english_afterwards():
    yield
    i18n.set_language("en")


def _catalog(language: str):
    with i18n.catalog_path(language).open("rb") as fh:
        return read_po(fh, locale=language)


def test_every_patient_text_is_translated_with_the_same_fields():
    messages = i18n.patient_messages()
    assert len(messages) > 150                  # scenes, questionnaires, movements
    for language in LANGUAGES:
        if language == i18n.SOURCE_LANGUAGE:
            continue
        catalog = _catalog(language)
        for context, message in messages:
            entry = catalog.get(message, context=context)
            assert entry is not None and entry.string, f"{language}: untranslated {message!r}"
            assert not entry.fuzzy, f"{language}: fuzzy {message!r}"
            english, translated = _fields(message), _fields(entry.string)
            allowed = english | (SIDE_FIELDS if "side" in english else set())
            assert translated <= allowed, f"{language}: {entry.string!r} has unknown fields"
            assert english - {"side"} <= translated, f"{language}: {entry.string!r} lost fields"


def test_questionnaires_and_side_sentences_read_in_german():
    i18n.set_language("de")
    assert i18n.language() == "de"
    assert i18n._("Nausea") == "Übelkeit"
    assert i18n._("worst pain imaginable") == "stärkster vorstellbarer Schmerz"
    assert i18n._("Image as clear as seeing") == "Bild so klar wie beim Sehen"
    assert i18n.for_side("Close your {side} hand slowly into a fist, then open it and spread "
                         "the fingers.", "right").startswith("Schließen Sie Ihre rechte Hand")
    assert i18n.for_side("Imagine moving your {side} leg out to the side and back.",
                         "left") == ("Stellen Sie sich vor, Sie bewegen Ihr linkes Bein zur "
                                     "Seite und zurück.")
    i18n.set_language("en")
    assert i18n._("Nausea") == "Nausea"
    assert i18n.for_side("Imagine moving your {side} leg out to the side and back.",
                         "left") == "Imagine moving your left leg out to the side and back."


def test_catalogs_are_package_data_and_bad_languages_are_one_line_errors():
    shipped = files("vrgmi") / "locale" / "de" / "LC_MESSAGES" / "vrgmi.po"
    assert shipped.is_file() and str(i18n.catalog_path("de")).endswith(
        "vrgmi/locale/de/LC_MESSAGES/vrgmi.po")
    with pytest.raises(VrgmiError) as err:
        i18n.set_language("xx")
    assert "\n" not in str(err.value) and "en, de" in str(err.value)
    with pytest.raises(VrgmiError):
        load_settings(None, ["ui.language=fr"])


def _texts(engine) -> str:
    return "\n".join(n.node().get_text() for n in engine.world.find_all_matches("**/+TextNode")
                     if not n.is_hidden())


def test_scenes_render_in_german(display, tmp_path):
    settings = load_settings(None, ["ui.language=de"])
    engine = Engine(settings, ScriptedSource("rest", intact_side="right"), display,
                    scene=PainNRS(moment="pre"))
    try:
        for i in range(3):
            engine.frame(i / RATE, 1 / RATE)
        shown = _texts(engine)
        assert "Wie stark sind Ihre Schmerzen im Moment?" in shown
        assert "kein Schmerz" in shown and "stärkster vorstellbarer Schmerz" in shown
        assert "pain" not in shown.lower()
        # a game's instruction screen, and its question after it
        engine.set_scene(LateralityScene(block_length=4, blocks=1))
        for i in range(3, 6):
            engine.frame(i / RATE, 1 / RATE)
        shown = _texts(engine)
        assert "Links oder rechts?" in shown and "Sie sehen eine Hand oder einen Fuß" in shown
        assert "Drücken Sie Auswahl, wenn Sie bereit sind" in shown
        grab_rgba(display.base)               # the German screen draws (tmp_path: a look)
    finally:
        engine.close()
