"""A test run that fails ends with a failing exit status, also when the app it tested started Ray in its process
(the server's shutdown ends a server process with status 0; it must never do that to a test run: CI would pass)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.ray


def test_a_failing_test_run_that_started_the_apps_workers_exits_1(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from streamlit.testing.v1 import AppTest

        def test_fails_after_the_workers_started():
            AppTest.from_file({str(ROOT / "app.py")!r}, default_timeout=120).run()
            from pages._server import server
            assert server().cluster() is not None and server().cluster().started_here
            assert False, "on purpose"
    """)
    )
    r = subprocess.run(
        [sys.executable, "-m", "pytest", str(probe), "-q", "-p", "no:cacheprovider", "-p", "no:rerunfailures"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "1 failed" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
    assert r.returncode == 1, r.stdout[-1000:]
