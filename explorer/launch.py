"""``cnn-explorer``: start the app, from a checkout or from an installed package, with the server settings of
``make app``.

The app itself (``app.py``, ``server.py`` and ``pages/``) is not part of the library: in a checkout it sits beside
``explorer/``; an installed package carries it as ``cnn_explorer_app``. This module only finds it and replaces its
own process with ``python -m streamlit run server.py`` (the server that serves ``app.py`` and warms up from its
launch), so the library still imports no Streamlit and no process is left between a service manager and the server.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

__all__ = ["main", "app_path", "server_path", "streamlit_command"]

# What .streamlit/config.toml says, given on the command line too, so that the settings hold wherever the
# command is started from (Streamlit reads a config file from the working folder).
SERVER_FLAGS = [
    "--browser.gatherUsageStats",
    "false",
    "--client.toolbarMode",
    "viewer",
    "--client.showSidebarNavigation",
    "false",
    "--client.showErrorDetails",
    "none",
    "--server.maxUploadSize",
    "200",
    "--runner.postScriptGC",
    "false",
    "--server.fileWatcherType",
    "none",
    "--theme.base",
    "light",
    "--theme.textColor",
    "#111111",
]  # .streamlit/config.toml's, a test pins them


def app_path() -> Path:
    """The app's entry file: the checkout's ``app.py``, else the installed ``cnn_explorer_app/app.py``."""
    here = Path(__file__).resolve().parents[1] / "app.py"
    if here.is_file() and (here.parent / "pages").is_dir():
        return here
    spec = importlib.util.find_spec("cnn_explorer_app")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            if (Path(folder) / "app.py").is_file():
                return Path(folder) / "app.py"
    raise FileNotFoundError("the app's files (app.py and pages/) are not installed with this package")


def server_path() -> Path:
    """The file ``streamlit run`` starts: ``server.py`` beside the app's entry, which serves ``app.py`` and starts
    the server's warm-up (PyTorch, the workers) as soon as the server is up."""
    return app_path().with_name("server.py")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cnn-explorer",
        description="Start CNN Explorer in the browser: build, train and look inside CNNs. "
        "With no options it serves the embedded digits at http://localhost:8501.",
    )
    p.add_argument("--port", type=int, default=8501, help="the port to serve on (default 8501)")
    p.add_argument(
        "--address", default=None, help="the address to listen on (default: all; 127.0.0.1 for this machine only)"
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="a folder of datasets in torchvision's layout, e.g. "
        "MNIST/raw/... (env EXPLORER_DATA_DIR); without it, the embedded 5,000 digits",
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="where workspaces are saved: an SQLAlchemy URL such as "
        "postgresql+psycopg://user:pw@host/db (env EXPLORER_DATABASE_URL); default: SQLite in "
        "~/.cache/cnn-explorer/state",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        help="join this Ray cluster for training (env RAY_ADDRESS); default: a local Ray instance",
    )
    p.add_argument("--headless", action="store_true", help="do not open a browser window")
    return p


def streamlit_command(argv: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The command line and the environment that start the server for ``argv``."""
    args = _parser().parse_args(argv)
    if not 1 <= args.port <= 65535:
        _parser().error(f"--port must be from 1 to 65535, got {args.port}")
    cmd = [sys.executable, "-m", "streamlit", "run", str(server_path()), "--server.port", str(args.port), *SERVER_FLAGS]
    if args.address:
        cmd += ["--server.address", args.address]
    if args.headless:
        cmd += ["--server.headless", "true"]
    env = dict(os.environ)
    for value, key in (
        (args.data_dir, "EXPLORER_DATA_DIR"),
        (args.database_url, "EXPLORER_DATABASE_URL"),
        (args.ray_address, "RAY_ADDRESS"),
    ):
        if value:
            env[key] = str(Path(value).resolve()) if key == "EXPLORER_DATA_DIR" else value
    return cmd, env


def main(argv: list[str] | None = None) -> int:
    """Replace this process with the server (``exec``): a service manager's SIGTERM or a Ctrl-C reaches Streamlit
    itself, whose shutdown stops the app's Ray instance, so nothing of the app is left running."""
    try:
        cmd, env = streamlit_command(argv)
    except FileNotFoundError as e:
        sys.stderr.write(f"cnn-explorer: error: {e}\n")
        return 2
    os.chdir(Path(cmd[4]).parent)  # Streamlit reads .streamlit/config.toml from the working folder
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(cmd[0], cmd, env)
    return 0  # not reached: the server has taken this process's place


if __name__ == "__main__":
    raise SystemExit(main())
