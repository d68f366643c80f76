"""Broker-free agent tests: the app with an in-memory store, driven through test_context."""

from __future__ import annotations

import pytest

from streams.app import create_app
from streams.settings import Settings


@pytest.fixture()
def test_app(tmp_path):
    """A finalised app whose tables live in memory; no Kafka is contacted."""
    app = create_app(Settings(store="memory://", home=tmp_path, topic_prefix="unit"))
    app.finalize()
    app.flow_control.resume()
    return app
