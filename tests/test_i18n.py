"""Every student's language: the catalogues say every message of the code with the same placeholders, Spanish,
German and Arabic completely; numbers and dates are written the way each language writes them; the pseudo-locale
keeps what a translation must keep; each session has its own language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from devtools import i18n as catalogues
from explorer.i18n import LANGUAGES, PSEUDO, pick_language, pseudo, translator
from pages._keys import LANG
from tests.apptest import app, fresh

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
COMPLETE = ("es", "de", "ar")  # every message of the template translated (docs/translating.md lists the parts)


def test_the_catalogues_are_what_the_code_says():
    """The template holds every message the code marks (a tr() inside an f-string too), each language's catalogue
    is merged with it, and the compiled files are the catalogues': `python -m devtools.i18n` leaves nothing to do."""
    assert catalogues.stale() == [], "run: python -m devtools.i18n"
    template = {m.id for m in catalogues.template() if m.id}
    assert "Prediction:" in template  # tr("Prediction:") sits inside an f-string's braces on Draw
    assert "Meet the data" in template  # the guided paths' steps (their JSON) are in it
    assert "Draw a digit" in template  # the menu's titles, marked where they are defined (N_)


def _forms(m) -> list[tuple[str, str]]:
    """A message's (source, translation) pairs: one, or each plural form against the plural source."""
    if isinstance(m.id, str):
        return [(m.id, m.string)]
    return [(m.id[min(i, 1)], text) for i, text in enumerate(m.string)]


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_each_catalogue_has_every_message_with_the_same_placeholders(lang):
    template = {m.id for m in catalogues.template() if m.id}
    cat = catalogues.read(lang)
    assert {m.id for m in cat if m.id} == template
    pairs = [(source, text) for m in cat if m.id for source, text in _forms(m)]
    wrong = [
        source
        for source, text in pairs
        if text and sorted(set(PLACEHOLDER.findall(text))) != sorted(set(PLACEHOLDER.findall(source)))
    ]
    assert not wrong, f"{lang}: placeholders differ in {wrong[:3]}"
    markup = [source for source, text in pairs if text and source.count("**") != text.count("**")]
    assert not markup, f"{lang}: bold markup differs in {markup[:3]}"
    missing = [source for source, text in pairs if not text]
    assert lang not in COMPLETE or not missing, f"{lang}: {len(missing)} messages untranslated, e.g. {missing[:3]}"


def test_a_translator_speaks_its_language_with_its_numbers_and_dates():
    es, de, en = translator("es"), translator("de"), translator("en")
    assert es("Start") == "Inicio" and de("Start") == "Start" and en("Start") == "Start"
    assert es("Open {page}", page=es("Data")) == "Abrir Datos" and de("Open {page}", page=de("Data")) == "Daten öffnen"
    assert (en.number(12544), de.number(12544), es.number(0.5, 2)) == ("12,544", "12.544", "0,50")
    assert en.percent(0.9912) == "99.1%" and de.percent(0.9912).replace("\xa0", " ") == "99,1 %"
    assert "Januar 2027" in de.date(1_799_000_000) and "enero de 2027" in es.date(1_799_000_000)
    assert translator("ar").rtl and not translator("de").rtl
    assert translator("xx").lang == "en" and translator("xx")("Start") == "Start"  # an unknown code: English


def test_the_language_comes_from_the_link_the_saved_choice_or_the_browser():
    assert pick_language(None, "es-ES") == "es" and pick_language("de", "es-ES") == "de"
    assert pick_language("", "de_AT") == "de" and pick_language(None, "fr-FR") == "en" and pick_language() == "en"
    assert pick_language("qps") == PSEUDO


def test_the_pseudo_locale_brackets_and_lengthens_and_keeps_what_a_translation_must_keep():
    text = "Builds `default` on **{dataset}** ({n} images): see [the guide](https://example.org/x) :material/route:"
    out = pseudo(text)
    assert out.startswith("⟦") and out.endswith("⟧") and len(out) > len(text) * 1.2
    for kept in ("`default`", "**{dataset}**", "{n}", "](https://example.org/x)", ":material/route:"):
        assert kept in out
    assert "Búílds" in out and "ímágés" in out
    assert translator(PSEUDO)("{n} steps", n=3).startswith("⟦3 stéps")


def _session(lang: str) -> AppTest:
    at = app()
    at.query_params["lang"] = lang
    return at.run()


def test_two_sessions_at_once_each_in_its_own_language():
    """A Spanish and a German session of one server, run in turns: each keeps its own words (nothing is
    installed process-wide), and a third with no choice is in English."""
    es, de = _session("es"), _session("de")
    es.run()  # after the German session ran
    assert not es.exception and not de.exception
    assert [b.label for b in es.button if b.key == "start_train"] == ["Entrenar la CNN por defecto (3 épocas)"]
    assert [b.label for b in de.button if b.key == "start_train"] == ["Das Standard-CNN trainieren (3 Epochen)"]
    assert any("Construye el preset `default`" in c.value for c in es.caption)
    assert any("Trainingsbilder" in c.value for c in de.caption)
    en = fresh()
    assert [b.label for b in en.button if b.key == "start_train"] == ["Train the default CNN (3 epochs)"]
    assert es.session_state[LANG] == "es" and en.session_state[LANG] == "en"


def test_the_language_is_kept_with_the_workspace():
    from pages._state import SAVED_KEYS

    assert "language" in SAVED_KEYS  # a reopened link comes back in the language it was left in


def test_no_code_installs_a_language_for_the_whole_process_or_names_its_function_underscore():
    bad = []
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "explorer").rglob("*.py")]:
        text = path.read_text()
        if "gettext.install(" in text or re.search(r"^\s*_ = .*(gettext|translat)", text, re.M):
            bad.append(path.name)
    assert not bad


def test_a_queued_runs_place_is_said_in_the_students_language():
    from explorer.serve import QueueInfo

    es, de = translator("es"), translator("de")
    assert QueueInfo(ahead=2, wait_s=30, wait_steps=1234).sentence(es) == (
        "en cola: 2 entrenamientos delante del tuyo; empieza tras unos 1.200 pasos de entrenamiento más de los "
        "entrenamientos anteriores al tuyo"
    )
    assert QueueInfo(ahead=1, wait_s=None).sentence(de) == "in der Warteschlange: ein Lauf vor deinem"
    assert QueueInfo(ahead=0, wait_s=300, wait_steps=1).sentence() == (
        "queued: yours is next, waiting for a free place to train; it starts after about 1 more training step of "
        "the runs before it"
    )  # the wait in the course's words (steps), never a clock time


def test_a_layer_that_cannot_be_built_says_why_in_the_students_language():
    from explorer import SpecError, summarize

    def refusal(layer):
        with pytest.raises(SpecError) as caught:
            summarize({"input_shape": [1, 28, 28], "layers": [layer]})
        return caught.value

    big = refusal({"type": "Conv2d", "out_channels": 4, "kernel_size": 40})
    assert str(big) == "layer 0 Conv2d: input is 1x28x28, smaller than its 40x40 kernel"  # the English, as it was
    assert big.say(translator("es")) == "capa 0 Conv2d: la entrada es 1x28x28, más pequeña que su kernel de 40x40"
    zero = refusal({"type": "Conv2d", "out_channels": 4, "kernel_size": 0})
    assert str(zero) == "layer 0 Conv2d: kernel_size must be an integer >= 1, got 0"
    assert zero.say(translator("de")) == "Schicht 0 Conv2d: kernel_size muss eine ganze Zahl >= 1 sein, erhalten: 0"
    assert zero.say(translator("qps")).startswith("⟦")  # every part goes through the translator


def test_the_build_page_says_a_layers_fault_in_the_students_language():
    from pages._keys import DRAFT

    at = _session("es")
    at.switch_page("pages/build.py").run()
    at.session_state[DRAFT] = {
        **at.session_state[DRAFT],
        "layers": [
            {"type": "Conv2d", "out_channels": 4, "kernel_size": 40},
            {"type": "Flatten"},
            {"type": "Linear", "out_features": 10},
        ],
    }
    at.session_state["build_rev"] += 1  # the layer widgets are drawn again from the new draft
    at.run()
    assert not at.exception, at.exception
    said = [e.value for e in at.error]
    assert any(e.endswith("capa 0 Conv2d: la entrada es 1x28x28, más pequeña que su kernel de 40x40") for e in said), said


def test_a_model_over_the_budget_is_refused_in_the_students_language_without_a_word_of_machinery():
    from explorer import SpecError, summarize
    from explorer.core import get_preset

    spec = {
        "input_shape": [1, 28, 28],
        "num_classes": 10,
        "layers": [
            {"type": "Conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1},
            {"type": "ReLU"},
            {"type": "Flatten"},
            {"type": "Linear", "out_features": 1000},
            {"type": "Linear", "out_features": 10},
        ],
    }
    with pytest.raises(SpecError) as caught:
        summarize(spec)
    english, spanish = str(caught.value), caught.value.say(translator("es"))
    assert english.startswith("This model needs 50.2 million parameters; at most 10 million are allowed here.")
    assert spanish.startswith("Parámetros que necesita este modelo: 50.2 millones; aquí se permiten como mucho 10 millones.")
    assert "server" not in english and "servidor" not in spanish
    assert get_preset("default")  # the presets stay within it


def test_a_file_that_cannot_be_read_is_refused_in_the_students_language():
    """Uploads, images and checkpoints: the refusal keeps its English words (the command line's) and says them
    again in the student's language, the file's own name kept as it is."""
    from explorer.core import CheckpointError, DataError, load_checkpoint, load_csv, load_image_file, load_image_zip

    with pytest.raises(DataError) as empty:
        load_csv(b"", name="digits.csv")
    assert str(empty.value) == "digits.csv: the file is empty"
    assert empty.value.say(translator("es")) == "digits.csv: el archivo está vacío"
    with pytest.raises(DataError) as bad_line:
        load_csv(b"label,p1,p2,p3,p4\n1,0,0,0,300\n", name="mine.csv")
    assert bad_line.value.say(translator("de")) == (
        "mine.csv: Zeile 2: Pixelwerte müssen zwischen 0 und 255 liegen, gefunden: 300"
    )
    with pytest.raises(ValueError) as not_image:
        load_image_file(b"not an image at all")
    assert not_image.value.say(translator("es")).startswith("la imagen no es una imagen que esta app pueda leer")
    with pytest.raises(DataError) as not_zip:
        load_image_zip(b"PK but no zip", name="photos.zip")
    assert not_zip.value.say(translator("ar")) == "photos.zip: ليس ملف zip يستطيع هذا التطبيق قراءته"
    with pytest.raises(CheckpointError) as short:
        load_checkpoint(b"1234")
    assert short.value.say(translator("de")) == "kein Checkpoint von CNN Explorer: Die Datei ist zu kurz"


def test_joining_a_class_is_refused_in_the_students_language(tmp_path):
    """The class's refusals (a code that names no class, a name already taken, a wrong teacher key with the
    tries left in the language's plural) are said in each student's language; none names the server."""
    from explorer.serve import ClassError, WorkspaceStore

    store = WorkspaceStore(state_dir=tmp_path)
    code, _ = store.create_class("mnist-5k")
    store.join(code, "Ada", "ws-one")
    with pytest.raises(ClassError) as taken:
        store.join(code, "ada", "ws-two")
    assert taken.value.say(translator("es")) == (
        "el nombre 'ada' ya está en uso en esta clase: añade una inicial o un número"
    )
    with pytest.raises(ClassError) as nowhere:
        store.join("K7MR4Q", "Bo", "ws-three")
    assert "server" not in str(nowhere.value)
    assert nowhere.value.say(translator("de")).startswith("hier gibt es keine Klasse K7M-R4Q")
    with pytest.raises(ClassError) as wrong:
        store.sign_in(code, "not the key", who="browser-1")
    assert wrong.value.say(translator("de")).endswith("(noch 4 Versuche, dann wartet jeder Versuch länger)")
    assert str(wrong.value).endswith("(4 more tries, then each try waits longer)")


def test_a_join_refused_on_the_start_page_is_said_in_spanish():
    from pages._server import server

    code, _ = server().store().create_class("mnist-5k")
    first = _session("es")
    first.text_input(key="start-join-code").input(code)
    first.text_input(key="start-join-name").input("Ada")
    next(b for b in first.button if b.label == "Unirme").click().run()
    second = _session("es")
    second.text_input(key="start-join-code").input(code)
    second.text_input(key="start-join-name").input("ada")
    next(b for b in second.button if b.label == "Unirme").click().run()
    said = [e.value for e in second.error]
    assert any("el nombre 'ada' ya está en uso en esta clase" in e for e in said), said


def test_a_job_stopped_by_its_time_limit_says_why_in_the_students_language():
    from explorer.core import Job, time_limit_sentence

    assert time_limit_sentence(600).say(translator("es")).startswith("se detuvo tras 10 minutos")
    job = Job("slow", lambda progress: [progress(i, 10**6) for i in range(10**6)], max_seconds=0.01)
    assert job.join(10)
    assert "Minuten angehalten, der Zeit, die ein Auftrag hier dauern darf" in job.error.say(translator("de"))


def test_how_a_run_ended_is_said_in_the_students_language_and_any_other_text_as_it_is():
    """A run's history keeps its message in English (saved, published, in checkpoints); a page says the library's
    own sentences again in the student's language, values kept, and shows any other text (a loaded file's) as it
    is, never formatting it."""
    from explorer.core import DIVERGED, KEEPS_BEFORE, STOPPED_AT, WORKER_LOST, say_run_message

    es, de = translator("es"), translator("de")
    assert say_run_message(STOPPED_AT.format(step=213), es) == "detenido en el paso 213"
    diverged = DIVERGED.format(step=40, lr="0.5")
    assert say_run_message(diverged, de).startswith(
        "der Verlust ist bei Schritt 40 explodiert: Senke die Lernrate (sie war 0.5)"
    )
    lost = KEEPS_BEFORE.format(why=WORKER_LOST.format(error="ActorDiedError"))
    assert say_run_message(lost, es) == (
        "Terminó antes de tiempo: el lugar donde entrenaba se detuvo de forma "
        "inesperada (ActorDiedError); el modelo conserva los pesos que tenía antes de "
        "este entrenamiento"
    )
    assert say_run_message("my own note {0.__class__}", es) == "my own note {0.__class__}"  # not the library's: as it is
    endless = DIVERGED.format(step=1, lr="1" + ": lower the learning rate (it was 1" * 4000)  # a loaded file's
    assert say_run_message(endless, es) == endless  # past the library's own lengths: shown as it is, not parsed
    hostile = STOPPED_AT.format(step="{step.__init__.__globals__}")  # a value is text, never a format
    assert say_run_message(hostile, es) == "detenido en el paso {step.__init__.__globals__}"


def test_a_deletion_receipt_is_written_in_the_students_language():
    from explorer.serve.mydata import Receipt

    receipt = Receipt(0.0, {"models": 2, "drawings": 1, "names on a class roster": 1})
    assert receipt.text().startswith("Deletion receipt, 1970-01-01 00:00:00 UTC\n\nmodels: 2\ndrawings: 1\n")
    german = receipt.text(translator("de"))
    assert german.startswith("Löschbeleg, 1970-01-01 00:00:00 UTC\n\nModelle: 2\nZeichnungen: 1\nNamen auf der Liste")
    assert german.rstrip().endswith("Nichts davon behält die App nach diesem Moment.")


@pytest.mark.parametrize("lang", ["en", "es", "ar", PSEUDO])
def test_the_pages_language_script_holds_no_html_tag_streamlit_would_drop_it_for(lang, monkeypatch):
    """Streamlit drops a whole script that holds an HTML tag (in a comment or a string too): the language script
    (lang, dir, the live parts kept from a page translator, the uploader's words) must hold none."""
    import pages._lang as L

    drawn: list[str] = []
    monkeypatch.setattr(L, "translate", lambda: translator(lang))
    monkeypatch.setattr(L, "tr", lambda m, **v: translator(lang)(m, **v))
    monkeypatch.setattr(L.st, "html", lambda html, **kw: drawn.append(html))
    monkeypatch.setattr(L.st, "sidebar", __import__("contextlib").nullcontext())
    L.page_language()
    body = drawn[0].removeprefix("<script>").removesuffix("</script>")
    assert drawn[0].startswith("<script>") and "<" not in body
    assert len(drawn) == (1 if lang == "en" else 2)  # the uploader's words are drawn in every other language
