"""The package: a wheel built from the checkout installs the library, the app and the ``cnn-explorer`` command
into a fresh virtual environment outside the checkout, and that command serves the app."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from explorer.launch import SERVER_FLAGS, streamlit_command
from tests.browser import shot, streamlit_server

pytestmark = pytest.mark.package  # builds and installs a wheel: the full lane (make test), not make test-fast

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["explorer", "pages", "app.py", "server.py", ".streamlit", "pyproject.toml", "requirements.txt", "README.md"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtual environment with only the built wheel installed (its dependencies are this test run's own,
    reached through a .pth file, so nothing is downloaded). Returns its bin folder."""
    tmp = tmp_path_factory.mktemp("package")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:  # build from a copy: the build leaves nothing in the checkout
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(
            ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if (ROOT / name).is_dir() else {})
        )
    wheels = tmp / "wheels"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = wheels.glob("cnn_explorer-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return venv / "bin"


def test_the_wheel_installs_the_library_the_app_and_the_command(installed, tmp_path):
    py = str(installed / "python")
    where = subprocess.run(
        [py, "-c", "import explorer, explorer.launch as l; print(explorer.__file__); print(l.app_path())"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert where.returncode == 0, where.stderr
    lib, app = where.stdout.split()
    assert str(ROOT) not in lib and "site-packages" in lib  # the installed copy, not the checkout
    packages = {str(d.relative_to(ROOT)) for d in (ROOT / "explorer").rglob("__init__.py")}
    installed_packages = {str(d.relative_to(Path(lib).parents[1])) for d in Path(lib).parent.rglob("__init__.py")}
    assert packages == installed_packages, packages ^ installed_packages  # every package of the library is in the wheel
    assert app.endswith("cnn_explorer_app/app.py") and (Path(app).parent / "pages" / "draw.py").is_file()
    assert (Path(app).parent / "server.py").is_file()  # what the command starts: the app, warming up from its launch
    assert (Path(app).parent / ".streamlit" / "config.toml").is_file()
    r = subprocess.run([str(installed / "cnn-explorer"), "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for option in ("--port", "--data-dir", "--database-url", "--ray-address"):
        assert option in r.stdout
    r = subprocess.run(
        [py, "-m", "explorer", "summary", "default"], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert r.returncode == 0 and "20,570" in r.stdout  # the library's command line is there too
    r = subprocess.run(
        [py, "-c", "from explorer.serve.store import WorkspaceStore; s = WorkspaceStore(state_dir='db'); print(s.count())"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 0 and r.stdout.strip() == "0", r.stderr[-1500:]  # the migrations are in the wheel
    r = subprocess.run([py, "-c", "import devtools"], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode != 0 and "No module named 'devtools'" in r.stderr  # no dev tools in the wheel
    r = subprocess.run(
        [py, "-m", "explorer", "bench", "--only", "trainer"], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "source checkout" in r.stderr  # a sentence, no trace


def test_the_command_passes_the_options_on_to_the_server(tmp_path):
    cmd, env = streamlit_command(
        [
            "--port",
            "9123",
            "--data-dir",
            str(tmp_path),
            "--database-url",
            "sqlite:///x.db",
            "--ray-address",
            "10.0.0.1:6379",
            "--headless",
        ]
    )
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("server.py")
    assert cmd[cmd.index("--server.port") + 1] == "9123" and all(flag in cmd for flag in SERVER_FLAGS)
    assert env["EXPLORER_DATA_DIR"] == str(tmp_path.resolve()) and env["EXPLORER_DATABASE_URL"] == "sqlite:///x.db"
    assert env["RAY_ADDRESS"] == "10.0.0.1:6379"
    with pytest.raises(SystemExit):
        streamlit_command(["--port", "0"])


@pytest.mark.browser
def test_cnn_explorer_serves_the_start_page_from_the_installed_package(installed, tmp_path, browser):
    command = [str(installed / "cnn-explorer"), "--port", "{port}", "--address", "127.0.0.1", "--headless"]
    with streamlit_server(
        env={"EXPLORER_STATE_DIR": str(tmp_path / "state")}, timeout=90, command=command, cwd=tmp_path
    ) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(url)
        page.wait_for_selector("h1:has-text('CNN Explorer')", timeout=60_000)
        page.get_by_role("button", name="Train the default CNN").first.wait_for(timeout=60_000)
        titles = page.locator(".st-key-menu a").all_inner_texts()
        assert any(t.strip().endswith("Draw a digit") for t in titles)
        assert page.locator("[data-testid=stException]").count() == 0
        shot(page, "package-start")
