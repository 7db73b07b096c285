"""The app's server: ``streamlit run server.py`` serves ``app.py`` and starts the server's warm-up (PyTorch, the
workers, the embedded digits) as soon as it is up, instead of at the first visitor's first page.

A teacher starts the server, then opens the page: by the time they click, the workers are warm. A first page that
arrives in the first seconds is still drawn before the warm-up takes the CPU (``explorer.serve.Server.warm_up``
waits for it, 5 s at most).
``streamlit run app.py`` works too, and warms up at the first page.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import streamlit as st

from pages._server import server

if TYPE_CHECKING:
    from explorer.serve import Server


async def keep_the_stop_signal(warming: Server) -> None:
    """Once Ray has started in this process, hand SIGTERM back to the web server's own handler: Ray's start puts
    its crash reporter in front of it, which printed a stack trace on every ordinary stop."""
    loop, up = asyncio.get_running_loop(), asyncio.Event()

    def settled() -> None:
        with contextlib.suppress(RuntimeError):  # the server stopped first: its loop is closed, nothing to hand back
            loop.call_soon_threadsafe(up.set)

    warming.when_workers_ready(settled)
    await up.wait()
    handler = signal.getsignal(signal.SIGTERM)
    if callable(handler):
        signal.signal(signal.SIGTERM, handler)


@asynccontextmanager
async def warm_at_launch(_app: Any) -> AsyncIterator[None]:
    warming = server()
    warming.warm_up()
    keeper = asyncio.create_task(keep_the_stop_signal(warming))
    try:
        yield
    finally:  # a stop (SIGTERM, Ctrl-C): the saves written, the runs ended, Ray stopped, then the process ends
        keeper.cancel()
        warming.shutdown(end_process=True)


app = st.App("app.py", lifespan=warm_at_launch)
