"""A school's set-up on this one machine, for the test that runs it (and the README, which lists the same
commands): PostgreSQL from Debian's package, a Ray cluster of two nodes on loopback, two app replicas, and
HAProxy with sticky sessions in front. Each part is a process of its own that the test can stop.

Everything listens on 127.0.0.1 and lives in one temporary folder; nothing is left behind."""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.browser import ROOT, free_port, streamlit_server
from tests.waits import wait_until

BIN = Path(sys.executable).parent


def missing() -> str | None:
    """What this machine lacks for the set-up (None: nothing)."""
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return "PostgreSQL (apt-get install postgresql)"
    if not shutil.which("haproxy"):
        return "HAProxy (apt-get install haproxy)"
    if not shutil.which("openssl"):
        return "openssl (apt-get install openssl), for the proxy's test certificate"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg (pip install 'psycopg[binary]')"
    return None


def _wait(check: Any, what: str, timeout: float = 60) -> None:
    if not wait_until(check, timeout, every=0.3):
        raise RuntimeError(f"{what} did not come up in {timeout:.0f} s")


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, leader_only: bool = False) -> None:
    """Stop a process and everything it started (it leads its own process group). ``leader_only``: signal the
    leader alone, then end what is left of its group: ``ray start --block`` stops its own processes in about 2 s,
    but a signal to the whole group left it waiting 20 s and more for children that were already gone."""
    if proc.poll() is None:
        try:
            (os.kill if leader_only else os.killpg)(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    if leader_only:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@contextmanager
def postgres(tmp: Path):
    """``initdb`` and ``postgres`` on a free loopback port (as the ``postgres`` user when run as root, which
    PostgreSQL requires); yields the SQLAlchemy URL of its ``postgres`` database."""
    bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1])
    # a folder of its own in /tmp: the postgres user must reach it, and pytest's folders are private to root
    data, port = Path(tempfile.mkdtemp(prefix="explorer-pg-")), free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "explorer", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    proc = subprocess.Popen(
        [
            *as_user,
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(data),
            "-c",
            "listen_addresses=127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait(
            lambda: (
                subprocess.run(
                    [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
                ).returncode
                == 0
            ),
            "PostgreSQL",
        )
        yield f"postgresql+psycopg://explorer@127.0.0.1:{port}/postgres"
    finally:
        _stop(proc, signal.SIGINT)  # PostgreSQL's fast shutdown
        shutil.rmtree(data, ignore_errors=True)


@dataclass
class RayCluster:
    address: str
    env: dict[str, str]  # what every node, replica and driver of this cluster needs (the address and its token)
    nodes: list[subprocess.Popen] = field(default_factory=list)

    def query(self, code: str) -> Any:
        """Run ``code`` (which sets ``out``) in a driver joined to the cluster; returns ``out``."""
        script = (
            f"import json, ray\nray.init(address={self.address!r}, namespace='cnn-explorer', "
            f"log_to_driver=False)\n{code}\nprint(json.dumps(out))"
        )
        r = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env={**os.environ, **self.env}
        )
        if r.returncode:
            raise RuntimeError(r.stderr[-2000:])
        return json.loads(r.stdout.strip().splitlines()[-1])

    def alive_nodes(self) -> list[str]:
        return self.query("out = [n['NodeID'] for n in ray.nodes() if n['Alive']]")

    def run_nodes(self) -> dict[str, str]:
        """The node of every worker that trains a run now, as ``run:<workspace>:<run>`` (each app replica's
        workers are named ``explorer-worker:…`` and say whose run they train)."""
        return self.query(
            "from ray._private.state import actors\n"  # from the GCS: no dashboard needed
            "out = {}\n"
            "for a in actors(actor_state_name='ALIVE').values():\n"
            "    if (a.get('Name') or '').startswith('explorer-worker:'):\n"
            "        try:\n"
            "            whose = ray.get(ray.get_actor(a['Name']).current.remote(), timeout=10)\n"
            "        except Exception:\n"
            "            continue\n"
            "        if whose:\n"
            "            out[f'run:{whose[0]}:{whose[1]}'] = a['Address']['NodeID']"
        )

    def stop_node(self, i: int) -> None:
        _stop(self.nodes[i], signal.SIGKILL)  # as a machine that fails: no goodbye


@contextmanager
def ray_cluster(tmp: Path, cpus_per_node: int = 1):
    """``ray start --head`` and a second ``ray start --address=…``: two nodes, one CPU each, with a token that
    every member of the cluster shares (Ray's token authentication)."""
    port = free_port()
    env = {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        "RAY_ADDRESS": f"127.0.0.1:{port}",
        "RAY_USAGE_STATS_ENABLED": "0",
    }  # (the name Ray reads: RAY_DISABLE_USAGE_STATS was read by nobody)
    common = ["--num-cpus", str(cpus_per_node), "--node-ip-address", "127.0.0.1", "--block"]
    cluster = RayCluster(env["RAY_ADDRESS"], env)
    node_env = {k: v for k, v in {**os.environ, **env}.items() if k != "RAY_ADDRESS"}
    try:
        cluster.nodes.append(
            subprocess.Popen(
                [
                    str(BIN / "ray"),
                    "start",
                    "--head",
                    "--port",
                    str(port),
                    "--include-dashboard=false",
                    "--temp-dir",
                    str(tmp / "ray"),
                    *common,
                ],
                env=node_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        _wait(lambda: _answers(port), "Ray's head node", 90)
        cluster.nodes.append(
            subprocess.Popen(
                [str(BIN / "ray"), "start", "--address", env["RAY_ADDRESS"], *common],
                env=node_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        _wait(lambda: len(cluster.alive_nodes()) == 2, "the second Ray node", 120)
        yield cluster
    finally:
        for proc in reversed(cluster.nodes):
            _stop(proc, leader_only=True)


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


HAPROXY = """global
    maxconn 512
    stats socket {socket} mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    option redispatch
    retries 3
frontend classroom
    bind 127.0.0.1:{port}
    bind 127.0.0.1:{tls_port} ssl crt {pem}
    http-request redirect prefix https://127.0.0.1:{tls_port} code 301 unless {{ ssl_fc }}
    http-response set-header Strict-Transport-Security "max-age=31536000"
    default_backend replicas
backend replicas
    balance roundrobin
    cookie EXPLORER_REPLICA insert indirect nocache
    option httpchk GET /_stcore/health
{servers}
"""


def self_signed(tmp: Path) -> Path:
    """A certificate and its key for 127.0.0.1 in one PEM file, as HAProxy reads them (a school uses its own)."""
    key, cert, pem = tmp / "key.pem", tmp / "cert.pem", tmp / "classroom.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    return pem


@contextmanager
def haproxy(tmp: Path, replicas: dict[str, int]):
    """HAProxy in front of the replicas: TLS (the teacher key and the workspace links never cross the school's
    network in clear text; plain HTTP is redirected, HSTS tells the browser to stay on HTTPS), a cookie keeps each
    browser on its replica (Streamlit's sessions live in one process), health checks take a stopped replica out
    within about two seconds, and a browser whose replica is gone is sent to another (``option redispatch``).
    Yields the proxy's HTTPS URL; ``plain_url`` (its HTTP port) is an attribute of the URL string."""
    port, tls_port = free_port(), free_port()
    servers = "\n".join(
        f"    server {name} 127.0.0.1:{p} check inter 1s fall 2 rise 1 cookie {name}" for name, p in replicas.items()
    )
    cfg = tmp / "haproxy.cfg"
    cfg.write_text(
        HAPROXY.format(port=port, tls_port=tls_port, pem=self_signed(tmp), servers=servers, socket=tmp / "haproxy.sock")
    )
    check = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True)
    if check.returncode:
        raise RuntimeError(check.stdout + check.stderr)
    proc = subprocess.Popen(
        ["haproxy", "-db", "-f", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    url = ProxyURL(f"https://127.0.0.1:{tls_port}")
    url.plain_url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _healthy(url), "HAProxy")
        yield url
    finally:
        _stop(proc)


class ProxyURL(str):
    """The proxy's HTTPS address, with its plain HTTP one beside it."""

    plain_url: str = ""


def _unverified() -> Any:
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the test's own self-signed certificate
    return ctx


def fetch(url: str) -> Any:
    """One request through the proxy, not following redirects: the response (status, headers)."""

    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a: Any, **k: Any) -> None:
            return None

    opener = urllib.request.build_opener(Stay, urllib.request.HTTPSHandler(context=_unverified()))
    try:
        return opener.open(url, timeout=5)
    except urllib.error.HTTPError as e:  # a redirect that was not followed
        return e


def _healthy(url: str) -> bool:
    try:
        return fetch(f"{url}/_stcore/health").status == 200
    except OSError:
        return False


def proxy_sends_to(sock: Path, name: str) -> bool:
    """Whether HAProxy (through its admin socket) still counts replica ``name`` as up."""
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(5)
        c.connect(str(sock))
        c.sendall(b"show servers state replicas\n")
        text = b"".join(iter(lambda: c.recv(65536), b"")).decode()
    for line in text.splitlines():
        f = line.split()
        if len(f) > 5 and f[1] == "replicas" and f[3] == name:
            return f[5] != "0"  # srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping
    raise RuntimeError(f"HAProxy does not know a replica called {name}: {text[:500]}")


@dataclass
class School:
    url: str  # the proxy: what the class opens
    db_url: str
    ray: RayCluster
    replicas: dict[str, Any]  # name -> its server's process handle
    proxy_socket: Path  # HAProxy's admin socket


SCHOOL_PASSWORD = "otter-lantern-42"  # the replicas share it (each would otherwise make its own)


@contextmanager
def school(tmp: Path, lease_s: float = 60):
    """The whole set-up; yields a :class:`School`."""
    with ExitStack() as stack:
        db_url = stack.enter_context(postgres(tmp))
        ray = stack.enter_context(ray_cluster(tmp))
        env = {
            **ray.env,
            "EXPLORER_DATABASE_URL": db_url,
            "EXPLORER_LEASE_S": str(lease_s),
            "EXPLORER_STATE_DIR": str(tmp / "state"),
            "EXPLORER_TEACHER_PASSWORD": SCHOOL_PASSWORD,
            "EXPLORER_OPEN_CLASSES": "",
        }  # as a school runs it: making a class needs the school's password
        replicas, ports = {}, {}
        for name in ("a", "b"):
            procs: list[subprocess.Popen] = []
            url = stack.enter_context(streamlit_server(env=env, timeout=120, procs=procs))
            replicas[name], ports[name] = procs[0], int(url.rsplit(":", 1)[1])
        yield School(stack.enter_context(haproxy(tmp, ports)), db_url, ray, replicas, tmp / "haproxy.sock")


def stop_replica(s: School, name: str) -> None:
    """Stop replica ``name`` as a machine that fails would (no clean shutdown), and wait until the proxy's
    health checks have taken it out (every second, two misses)."""
    proc = s.replicas[name]
    proc.kill()
    proc.wait(20)
    _wait(lambda: not proxy_sends_to(s.proxy_socket, name), f"HAProxy to take replica {name} out", timeout=30)


__all__ = ["School", "school", "missing", "stop_replica", "ROOT", "fetch"]
