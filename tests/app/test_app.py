"""The app through Streamlit's AppTest: pages render, the build flow, a short training run, isolation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer import get_preset, parse_spec
from pages._keys import DRAFT, FLASH, OWNER, PERSON, TRAIN_CFG, UNASKED, WS, WS_ID
from tests.apptest import app, button, fresh, start_default_on_train_page, wait_training
from tests.waits import wait_until

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["pages/start.py", "pages/data.py", "pages/build.py", "pages/train.py", "pages/board.py"]


def start_button(at: AppTest):
    """Start's one-click button (the real one, drawn once the session is open)."""
    return at.button(key="start_train")


def test_starts_button_promises_the_epochs_the_default_settings_train():
    import re

    from explorer import TrainConfig

    label = re.search(r'TRAIN_LABEL = N_\("([^"]+)"\)', (ROOT / "pages" / "start.py").read_text()).group(1)
    assert f"({TrainConfig().epochs} epochs)" in label


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_fresh_session(page):
    at = fresh()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert at.title  # every page has its title


def test_build_flow_preset_edit_invalid_and_json_round_trip():
    at = fresh()
    at.switch_page("pages/build.py").run()
    button(at, "Load preset").click().run()
    rev = at.session_state["build_rev"]
    at.number_input(key=f"L{rev}-0-out_channels").set_value(12).run()
    draft = at.session_state[DRAFT]
    assert draft["layers"][0]["out_channels"] == 12
    assert any("Parameters" == m.label for m in at.metric)
    # an edit that breaks the network is flagged on that layer, and Create is disabled
    at.number_input(key=f"L{rev}-0-kernel_size").set_value(30).run()
    errors = [e.value for e in at.error]
    assert any("layer 0 Conv2d: input is 1x28x28, smaller than its 30x30 kernel" in e for e in errors), errors
    assert button(at, "Create model").disabled
    assert not at.exception
    # fix it, create the model
    at.number_input(key=f"L{rev}-0-kernel_size").set_value(5).run()
    assert not button(at, "Create model").disabled
    button(at, "Create model").click().run()
    ws = at.session_state[WS]
    assert ws.current == "default" and ws.entry().spec["layers"][0]["out_channels"] == 12
    # the JSON shown for export parses back to the same spec
    shown = next(c.value for c in at.code if '"input_shape"' in c.value)
    assert parse_spec(shown) == json.loads(json.dumps(at.session_state[DRAFT]))


def test_structural_edits_add_move_duplicate_remove():
    at = fresh()
    at.switch_page("pages/build.py").run()
    n = len(at.session_state[DRAFT]["layers"])
    rev = at.session_state["build_rev"]
    at.selectbox(key=f"L{rev}-add-t").set_value("Dropout").run()
    at.button(key=f"L{rev}-add-b").click().run()
    layers = at.session_state[DRAFT]["layers"]
    assert len(layers) == n + 1 and layers[-1]["type"] == "Dropout"
    rev = at.session_state["build_rev"]
    at.button(key=f"L{rev}-{n}-up").click().run()  # dropout moves above the last Linear
    assert at.session_state[DRAFT]["layers"][n - 1]["type"] == "Dropout"
    rev = at.session_state["build_rev"]
    at.button(key=f"L{rev}-0-dup").click().run()
    assert at.session_state[DRAFT]["layers"][1] == at.session_state[DRAFT]["layers"][0]
    rev = at.session_state["build_rev"]
    at.button(key=f"L{rev}-1-rm").click().run()
    assert len(at.session_state[DRAFT]["layers"]) == n + 1
    assert not at.exception


def test_short_training_run_gives_curves_and_a_model():
    at = fresh()
    at.session_state[TRAIN_CFG].update(epochs=2, limit_train=2048)
    start_default_on_train_page(at)
    wait_training(at)
    at.run()
    assert not at.exception
    entry = at.session_state[WS].entry()
    assert entry.state == "trained" and entry.test_accuracy is not None and entry.test_accuracy > 0.5
    assert len(at.get("plotly_chart")) >= 2
    assert any("Done after" in s.value for s in at.success)


def test_divergence_is_a_warning_not_a_crash():
    at = fresh()
    at.session_state[TRAIN_CFG].update(epochs=1, lr=100.0, optimizer="sgd", schedule="constant", log_every=1)
    at.session_state[WS].add_model(
        {
            "input_shape": [1, 28, 28],
            "num_classes": 10,
            "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 64}, {"type": "Linear", "out_features": 10}],
        },
        "mlp",
    )
    at.switch_page("pages/train.py").run()
    button(at, "Start training").click().run()
    wait_training(at)
    at.run()
    assert not at.exception
    assert any("lower the learning rate" in w.value for w in at.warning)


def test_two_sessions_never_see_each_others_models():
    a, b = fresh(), fresh()
    a.session_state[TRAIN_CFG].update(epochs=1, limit_train=256)
    start_default_on_train_page(a)
    wait_training(a)
    b.switch_page("pages/train.py").run()
    assert a.session_state[WS].models and not b.session_state[WS].models
    assert a.session_state[WS] is not b.session_state[WS]
    assert any("No model yet" in i.value for i in b.info)


# --- every click acts on what is on screen: a value changed and a click arrive in the same rerun ---


def test_train_more_uses_the_epochs_typed_just_before_the_click():
    at = fresh()
    at.session_state[TRAIN_CFG].update(limit_train=256)
    at.switch_page("pages/train.py").run()
    button(at, "Create the default CNN for this dataset").click().run()
    at.number_input(key="train_epochs").set_value(2)
    at.number_input(key="train_seed").set_value(5)
    button(at, "Start training").click().run()  # one rerun carries both the new values and the click
    run = at.session_state[WS].entry().runs[-1]
    assert run.config["epochs"] == 2 and run.config["seed"] == 5
    wait_training(at)
    assert len(run.current()["epochs"]) == 2


def test_load_preset_loads_the_preset_picked_just_before_the_click():
    at = fresh()
    at.switch_page("pages/build.py").run()
    at.selectbox(key="build_preset").set_value("mnist-gap")
    button(at, "Load preset").click().run()
    assert at.session_state[DRAFT]["name"] == "mnist-gap"


def test_importing_a_valid_spec_shows_its_layers_and_its_name():
    at = fresh()
    at.switch_page("pages/build.py").run()
    spec = get_preset("mnist-gap") | {"name": "gap-from-a-file"}
    at.file_uploader(key="spec_upload").set_value(("gap.json", json.dumps(spec).encode(), "application/json")).run()
    button(at, "Import").click().run()
    assert not at.exception, at.exception
    draft = at.session_state[DRAFT]
    assert draft["name"] == "gap-from-a-file" and draft["layers"] == spec["layers"]
    assert at.text_input(key="build_name").value == "gap-from-a-file"  # the name field shows the imported name
    rev = at.session_state["build_rev"]
    assert at.selectbox(key=f"L{rev}-0-type").value == spec["layers"][0]["type"]
    # the confirmation waits for app.py's frame (AppTest runs the page file alone after a switch_page)
    assert any("Imported" in m and "gap-from-a-file" in m for _, m in at.session_state[FLASH])


def test_a_spec_without_a_name_takes_the_file_name():
    at = fresh()
    at.switch_page("pages/build.py").run()
    spec = {k: v for k, v in get_preset("default").items() if k != "name"}
    at.file_uploader(key="spec_upload").set_value(("my net.json", json.dumps(spec).encode(), "application/json")).run()
    button(at, "Import").click().run()
    assert not at.exception, at.exception
    assert at.text_input(key="build_name").value == "my net"


@pytest.mark.parametrize(
    "data,words",
    [
        (b"{not json", "line 1"),
        (
            json.dumps(
                {"input_shape": [1, 28, 28], "layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 99}]}
            ).encode(),
            "layer 0 Conv2d",
        ),
        (b'{"input_shape": [1, 28, 28], "layers": [], "description": "' + b"x" * 1_500_000 + b'"}', "at most 1 MB"),
    ],
)
def test_a_bad_spec_file_gets_a_sentence_and_keeps_the_layers(data, words):
    at = fresh()
    at.switch_page("pages/build.py").run()
    before = json.loads(json.dumps(at.session_state[DRAFT]))
    at.file_uploader(key="spec_upload").set_value(("bad.json", data, "application/json")).run()
    button(at, "Import").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("Not imported:") and words in e for e in errors), errors
    assert at.session_state[DRAFT]["layers"] == before["layers"]


# --- work that lasts: the workspace id in the URL opens the saved work ---


def test_a_saved_workspace_opens_again_from_its_id_and_only_from_it():
    at = fresh()  # the Start page runs through app.py, which saves the workspace after every run
    start_button(at).click().run()
    wait_training(at)
    at.run()
    ws_id = at.session_state[WS_ID]
    assert ws_id and at.query_params["ws"] in (ws_id, [ws_id])  # the id is in the page's address
    acc = at.session_state[WS].entry().test_accuracy
    assert acc is not None

    again = app()
    again.query_params["ws"] = ws_id  # a reload, or the same link on another machine
    again.run()
    entry = again.session_state[WS].entry()
    assert entry is not None and entry.state == "trained" and entry.test_accuracy == acc
    assert len(again.get("plotly_chart")) >= 2  # its curves, on Start
    assert any("Whoever has the link has the work" in c.value for c in again.sidebar.caption)

    other = fresh()
    assert other.session_state[WS].entry() is None and other.session_state[WS_ID] != ws_id
    stranger = app()
    stranger.query_params["ws"] = "x" * 24  # a guessed id opens nothing
    stranger.run()
    assert stranger.session_state[WS].entry() is None


def test_the_server_skips_streamlits_full_collection_after_every_run():
    """Streamlit's gc.collect(2) after each script run cost ~165 ms with torch and Ray loaded, after every stroke
    on Draw and every live-chart refresh: the app's config turns it off, under the name Streamlit reads."""
    import tomllib

    from streamlit import config

    settings = tomllib.loads((Path(__file__).parents[2] / ".streamlit" / "config.toml").read_text())
    assert settings["runner"]["postScriptGC"] is False
    assert "runner.postScriptGC" in config._config_options_template  # still an option of this Streamlit


def test_the_startup_heap_is_frozen_once_so_collections_skip_it(monkeypatch):
    import gc

    import torch  # noqa: F401  (what the server has loaded)

    from pages._server import freeze_startup_heap

    gc.unfreeze()  # an app run earlier in this process may have frozen it already
    monkeypatch.setenv("EXPLORER_GC_FREEZE", "0")
    freeze_startup_heap.clear()
    assert freeze_startup_heap() is False and gc.get_freeze_count() == 0
    monkeypatch.setenv("EXPLORER_GC_FREEZE", "1")
    freeze_startup_heap.clear()
    tracked = len(gc.get_objects())
    try:
        assert freeze_startup_heap() is True
        assert gc.get_freeze_count() > tracked // 2  # torch's objects and the rest are out of the collector's way
        assert len(gc.get_objects()) < tracked // 10
    finally:
        gc.unfreeze()
        freeze_startup_heap.clear()


def test_students_never_see_a_traceback_the_server_log_keeps_it():
    """Streamlit shows an uncaught error's type, message and traceback (server paths, SQL) by default: the app's
    settings and the cnn-explorer command both turn that to a generic sentence, under the name Streamlit reads."""
    import tomllib

    from streamlit import config

    from explorer.launch import SERVER_FLAGS

    settings = tomllib.loads((Path(__file__).parents[2] / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["showErrorDetails"] == "none"
    assert SERVER_FLAGS[SERVER_FLAGS.index("--client.showErrorDetails") + 1] == "none"
    option = config._config_options_template["client.showErrorDetails"]
    assert '"none"' in option.description  # still a value of this Streamlit's option


def test_two_tabs_of_one_person_run_one_job_at_a_time():
    """Tabs of one workspace (the address, when the browser sends no identity cookie) are one person: while the
    first tab's filter images run, the second tab's Generate is refused with a sentence, and its page goes on."""
    first = fresh()
    start_button(first).click().run()
    wait_training(first)
    first.run()
    second = app()
    second.query_params["ws"] = first.session_state[WS_ID]
    second.run()
    assert second.session_state[PERSON] == first.session_state[PERSON]
    for tab in (first, second):
        tab.switch_page("pages/filters.py").run()
        tab.select_slider(key="fv_steps").set_value(512).run()
    button(first, "Generate").click().run()
    job = first.session_state["filter_job"]
    button(second, "Generate").click().run()
    assert not second.exception, second.exception
    said = [m for _kind, m in second.session_state[FLASH]]  # shown by app.py at the tab's next run
    assert any(m.startswith("Not started: one of your jobs still runs (filter images of default") for m in said), said
    assert "filter_job" not in second.session_state
    job.cancel()
    assert job.join(60)
    stranger = fresh()  # another person is never held up by this one's job
    assert stranger.session_state[PERSON] != first.session_state[PERSON]


def test_browsers_that_keep_no_cookie_share_one_persons_limits_but_not_their_work():
    """Two tabs whose browsers keep no cookie (sent to ``?cookies=off`` by the page's script) count as one person:
    one's job holds the other's, with a sentence that says why and what to do; each keeps its own work (My data lists
    its own workspace only), and the sidebar says so. A browser that keeps the cookie is a person."""
    from explorer.serve import COOKIELESS

    tabs = []
    for _ in range(2):
        at = app()
        at.query_params["cookies"] = "off"
        tabs.append(at.run())
    a, b = tabs
    assert a.session_state[PERSON] == b.session_state[PERSON] == COOKIELESS
    assert a.session_state[OWNER] == a.session_state[WS_ID] != b.session_state[OWNER] == b.session_state[WS_ID]
    for at in (a, b):
        assert any("does not keep the app's cookie" in c.value for c in at.sidebar.caption)

    class Pending:  # a job that runs until the test ends it
        finished, cancel_requested, name = False, False, "a long job"

    held = a.session_state[WS].quota.start_job(Pending)
    with pytest.raises(ValueError, match="one of your jobs still runs .*shares these limits with every browser like"):
        b.session_state[WS].quota.start_job(Pending)
    held.finished = True
    plain = fresh()
    assert plain.session_state[PERSON] == plain.session_state[OWNER] != COOKIELESS  # a person of its own
    assert not any("does not keep the app's cookie" in c.value for c in plain.sidebar.caption)


def test_the_augmentation_widgets_offer_exactly_the_librarys_ranges():
    """One source for the ranges (``AUGMENT_LIMITS``): what the library accepts, the widgets offer, and no more."""
    from explorer.core import AUGMENT_LIMITS

    at = fresh()
    at.switch_page("pages/augment.py").run()
    assert not at.exception, at.exception
    keys = {"rotation": "aug_rot", "shift": "aug_shift", "scale": "aug_scale", "shear": "aug_shear"}
    for name, key in keys.items():
        s = at.slider(key=key)
        assert (s.min, s.max) == AUGMENT_LIMITS[name], name


def test_the_private_streamlit_parts_the_server_relies_on_are_still_there():
    """``pages/_server.py`` is the one place that touches Streamlit's private parts: the legacy ``pages/`` routing
    switch (``leave_legacy_pages_routing``) and the session manager (``session_alive``). A Streamlit upgrade that
    moves either fails here, by name, instead of quietly breaking the first page or the runs' lifetimes."""
    import ast
    import inspect

    from streamlit.runtime import Runtime
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.session_manager import SessionManager

    assert "uses_pages_directory" in vars(PagesManager), "PagesManager.uses_pages_directory is gone"
    assert PagesManager.uses_pages_directory in (None, True, False)
    assert "self._session_mgr" in inspect.getsource(Runtime.__init__), "Runtime._session_mgr is gone"
    assert callable(getattr(SessionManager, "get_session_info", None)), "SessionManager.get_session_info is gone"
    touching = set()
    for path in [*(ROOT / "pages").glob("*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("streamlit.runtime"):
                touching.add(path.name)
    assert touching == {"_server.py"}, touching  # the workarounds live in one file


def test_my_data_shows_what_is_kept_gives_it_as_a_zip_and_deletes_it_with_a_receipt():
    import io
    import zipfile

    from pages._server import workspace_store

    at = fresh()
    start_button(at).click().run()
    wait_training(at)
    at.run()  # saved after the run
    old_ws = at.session_state[WS_ID]
    at.switch_page("pages/mydata.py").run()
    assert not at.exception
    kept = " ".join(m.value for m in at.markdown)
    assert "**Your work**: models **default**; 1 training run(s); 0 upload(s)" in kept
    button(at, "Prepare the download").click().run()
    job = at.session_state["mydata_export"]  # the zip is built as a job, off the page's own process
    wait_until(lambda: job.finished, 60, "the zip built")
    at.run()
    assert not job.error and any(n.startswith("models/") for n in zipfile.ZipFile(io.BytesIO(job.result)).namelist())
    assert [b.label for b in at.get("download_button")] == ["Download all of it (zip)"]
    delete = button(at, "Delete all of it")
    assert delete.disabled  # not before the confirmation
    at.checkbox(key="mydata_sure").check().run()
    button(at, "Delete all of it").click().run()
    assert not at.exception
    receipt = at.session_state["mydata_receipt"]
    assert "models: 1" in receipt and "runs: 1" in receipt and "workspaces: 1" in receipt
    assert any("All of it is deleted" in s.value for s in at.success) and "server" not in receipt
    assert "mydata_export" not in at.session_state  # the old download is not offered after the deletion
    assert WS not in at.session_state  # the tab let go of the deleted workspace: nothing of it is saved
    at.switch_page("pages/start.py").run()  # the next page opens a new, empty one
    assert at.session_state[WS_ID] != old_ws and not at.session_state[WS].models
    assert workspace_store().inventory(old_ws).empty  # nothing of the old workspace is kept, nor saved again


def _messages_page():
    import streamlit as st

    from pages._state import flash, show_flash

    show_flash(top=True)
    if st.button("Say"):
        flash("Run #1 of **default** was still training: it carries on here.", "info")
        st.rerun()
    st.button("Act")
    show_flash()  # a page's own place for what it says meanwhile (a refusal under its button): nothing here


def test_a_message_stays_while_the_page_redraws_by_itself_and_goes_when_the_student_acts():
    at = AppTest.from_function(_messages_page).run()
    button(at, "Say").click().run()
    assert [m.value for m in at.info] == ["Run #1 of **default** was still training: it carries on here."]
    at.session_state[UNASKED] = True  # as pages._server.rerun_unasked leaves it: a run ended, the page redraws
    at.run()  # by itself; nobody acted, so the message is still there (and the page under it in its place)
    assert len(at.info) == 1
    button(at, "Act").click().run()
    assert not at.info
