"""The notebook to take home: nbformat 4, settings first, user text inert in markdown and in code, and, run top to
bottom by a real Jupyter kernel (nbclient), the app's accuracy on the same data."""

from __future__ import annotations

import re

import nbformat
import pytest

from explorer.core.config import TrainConfig
from explorer.core.presets import get_preset
from explorer.core.spec import build_model
from explorer.core.train import Trainer
from explorer.lessons.notebook import inert_markdown, to_notebook

HOSTILE = [
    "# Big <script>alert(1)</script> [link](http://x) ![img](http://y)",
    'say """hi"""\nimport os; os._exit(3)',
    'it\'s "quoted" \\N{BULLET} {braces}\r\n---\n* item',
]


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_the_notebook_is_nbformat_4_with_its_settings_in_the_first_code_cell():
    nb = nbformat.reads(to_notebook(get_preset("default"), {"epochs": 2, "seed": 7}, "mnist"), as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
    first = _code(nb)[0]
    assert 'os.environ.get("EXPLORER_DATA_DIR")' in first and "CONFIG = json.loads(" in first
    assert '"epochs": 2' in first and '"seed": 7' in first
    headings = [
        line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines() if line.startswith("## ")
    ]
    assert headings == [
        "## Settings",
        "## The app's own code",
        "## The data",
        "## The model",
        "## Training",
        "## Evaluation",
        "## A look inside",
    ]
    assert any("def train(" in c for c in _code(nb)) and any('print(f"test accuracy:' in c for c in _code(nb))


@pytest.mark.parametrize("text", HOSTILE)
def test_names_and_descriptions_stay_inert_text_in_markdown_and_in_code(text):
    nb = nbformat.reads(to_notebook({**get_preset("default"), "name": text, "description": text}, {}, "mnist"), as_version=4)
    title = nb.cells[0].source.splitlines()[0]
    assert title.startswith("# ") and "<script>" not in title and "](" not in title  # escaped: no tag, no link
    for c in nb.cells:
        if c.cell_type == "markdown":
            assert not re.search(r"(?<!\\)<(script|b|a)\b", c.source) and "![" not in c.source.replace("\\!\\[", "")
        else:
            compile(c.source, "cell", "exec")  # a name never breaks a cell
    scope: dict = {}
    exec(_code(nb)[0], scope)  # the settings cell gives the name back exactly, as data
    assert scope["MODEL_NAME"] == text and scope["SPEC"]["description"] == text


def test_inert_markdown_escapes_every_sign_a_reader_would_render():
    assert inert_markdown("**bold** _it_ `code` <b>") == r"\*\*bold\*\* \_it\_ \`code\` &lt;b&gt;"
    assert inert_markdown("a\nb") == "a  \nb" and inert_markdown("a\nb", one_line=True) == "a b"


@pytest.mark.slow
def test_the_default_notebook_runs_top_to_bottom_and_reaches_the_apps_accuracy(mnist, data_dir, monkeypatch):
    """The exported notebook of `default`, run by a Python kernel on the full MNIST, prints a test accuracy of at
    least 97%, within a point of the app's own run of the same settings on the same data."""
    from nbclient import NotebookClient

    spec, cfg = get_preset("default"), TrainConfig()
    nb = nbformat.reads(to_notebook(spec, cfg.to_dict(), "mnist"), as_version=4)
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_dir))  # the kernel inherits it: no download
    NotebookClient(nb, timeout=900, kernel_name="python3").execute()
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    theirs = float(re.search(r"test accuracy: ([\d.]+)%", printed).group(1))
    hist = Trainer(build_model(spec, seed=cfg.seed), mnist, TrainConfig(eval_splits=("test",))).run()
    ours = 100 * hist["epochs"][-1]["test_accuracy"]
    print(f"[notebook] test accuracy {theirs:.2f}% (the app: {ours:.2f}%)")
    assert theirs >= 97.0 and abs(theirs - ours) <= 1.0
    assert "feature map" in printed and "kernels" in printed  # the look inside ran too


def test_the_command_exports_a_checkpoints_run_or_a_preset_as_a_notebook(tmp_path, trained_default, mnist5k):
    from explorer.core.checkpoint import save_checkpoint
    from tests.test_cli import cli

    model, spec, hist = trained_default
    ck = tmp_path / "m.safetensors"
    save_checkpoint(model, spec, mnist5k.info(), hist, config=TrainConfig(epochs=3, lr=0.004).to_dict(), path=ck)
    r = cli("export", str(ck), "--notebook", "--out", str(tmp_path / "m.ipynb"))
    assert r.returncode == 0, r.stderr
    first = _code(nbformat.read(tmp_path / "m.ipynb", as_version=4))[0]
    assert '"lr": 0.004' in first and '"epochs": 3' in first  # the checkpoint's own run, not the defaults
    r = cli("export", "one-conv", "--notebook", "--seed", "5", "--out", str(tmp_path / "p.ipynb"))
    assert r.returncode == 0 and '"seed": 5' in _code(nbformat.read(tmp_path / "p.ipynb", as_version=4))[0]
    r = cli("export", "default", "--notebook", "--out", str(tmp_path))
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "is a folder" in r.stderr
