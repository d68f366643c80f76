"""A narrow patch of Faust's aiohttp web server: connections that send no complete request
are closed.

aiohttp closes a connection that has not sent a complete request (headers included) once its
``keepalive_timeout`` passes, counted from the moment the connection opens; its default is an
hour. Faust builds the ``AppRunner`` itself (``faust/web/drivers/aiohttp.py``) with no way to
pass handler options, so a client that opened a connection and sent half a header held it for
an hour. This sets the option on the runner Faust built, before its server starts. Request
bodies have their own deadline in the views (``Settings.web_body_timeout_s``); after a view
refuses a body it has not read to the end, aiohttp keeps reading (and dropping) the rest for
``lingering_time`` before it closes, 10 s by default, cut here to ``LINGER_S``.
"""

from __future__ import annotations

import faust

__all__ = ["limit_idle_connections", "LINGER_S"]

#: Seconds a refused request's unread body is still drained before the connection closes.
LINGER_S = 2.0


def limit_idle_connections(app: faust.App, seconds: float) -> None:
    """Close connections of ``app``'s web server that sit ``seconds`` without a full request."""
    runner = app.web._runner  # noqa: SLF001  (Faust keeps no public handle on it)
    if getattr(runner, "server", None) is not None:
        raise RuntimeError("the web server is already running: patch it before the app starts")
    runner._kwargs["keepalive_timeout"] = float(seconds)  # noqa: SLF001
    runner._kwargs["lingering_time"] = LINGER_S  # noqa: SLF001
