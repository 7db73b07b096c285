"""Loaded by every Python process started with this folder on PYTHONPATH (the app server and its Ray workers, in
the outbound-connection test): each socket connection to an address that is not this machine's own is written
to the file ``EXPLORER_NETLOG`` names, with the process id, and refused."""

import os
import socket

_LOG = os.environ.get("EXPLORER_NETLOG")
_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex


def _own(host: str) -> bool:
    if host in ("localhost", "", "0.0.0.0", "::", "::1") or host.startswith("127."):
        return True
    try:
        return host in set(os.environ.get("EXPLORER_OWN_ADDRESSES", "").split())
    except Exception:  # noqa: BLE001
        return False


def _check(sock: socket.socket, address) -> None:  # noqa: ANN001
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or not isinstance(address, tuple):
        return  # a Unix socket: this machine's own
    host = str(address[0])
    if not _own(host):
        with open(_LOG, "a") as f:
            f.write(f"{os.getpid()} {host}:{address[1]}\n")
        raise ConnectionRefusedError(f"outbound connection to {host} refused by the test")


def connect(self, address):  # noqa: ANN001, ANN201
    _check(self, address)
    return _connect(self, address)


def connect_ex(self, address):  # noqa: ANN001, ANN201
    _check(self, address)
    return _connect_ex(self, address)


if _LOG:
    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    with open(_LOG + ".loaded", "a") as _f:  # the test checks that the server and its workers were watched
        _f.write(f"{os.getpid()}\n")
