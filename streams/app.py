"""The Faust application: ``create_app(settings)`` wires topics, tables, agents and views.

::

    tracks.discovered --register_tracks--> tracks.registered --extract_features--> tracks.features
        --label_tracks--> tracks.labelled        [tables: tracks, cards (the catalog)]
    voice.clips --recommend--> recommendations     [table: sessions]
    feedback --learn_feedback--> sessions
    (any event an agent cannot process) --------> deadletters
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import faust

from models.voice import MAX_CLIP_BYTES
from streams.agents import define_agents
from streams.clip_readers import ClipReaders
from streams.consumer import dead_letter_skipped_batches, use_rewinding_consumer
from streams.deadletter import DeadLetterPolicy
from streams.model_hub import ModelHub
from streams.pipeline_io import PipelineStore
from streams.settings import Settings
from streams.tables import Tables, declare_tables
from streams.topics import Topics, declare_topics, ensure_topics
from streams.views import define_views
from streams.web_server import limit_idle_connections

__all__ = ["Components", "create_app", "run_worker", "MAX_MESSAGE_BYTES"]

logger = logging.getLogger(__name__)

#: Largest message the app produces or fetches (inline voice clips); the broker allows 16 MiB.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Components:
    """What ``create_app`` built, kept on the app as ``app.moodstream``."""

    settings: Settings
    topics: Topics
    tables: Tables
    dead_letters: DeadLetterPolicy
    agents: dict
    models: ModelHub | None = None
    store: PipelineStore | None = None
    readers: ClipReaders | None = None


def create_app(
    settings: Settings, *, with_models: bool = True, model_refresh_s: float = 15.0
) -> faust.App:
    """Build the moodstream Faust app for ``settings`` (no I/O happens until it starts).

    ``with_models=False`` builds only the registration path (agent unit tests).
    """
    settings.check_exposure()
    datadir = settings.home / "faust" / f"{settings.app_id}-{settings.web_port}"
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.store,
        datadir=str(datadir),
        web_host=settings.web_host,
        web_bind=settings.web_host,  # Faust binds to 0.0.0.0 unless told
        web_port=settings.web_port,
        # The views read bodies themselves, bounded; this caps aiohttp's own readers alike.
        web_application_options={"client_max_size": MAX_CLIP_BYTES + 64 * 1024},
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        table_standby_replicas=0,
        producer_max_request_size=MAX_MESSAGE_BYTES,
        consumer_max_fetch_size=MAX_MESSAGE_BYTES,
        producer_acks=-1,
        # A killed worker's partitions move to the survivors after this long (default 60 s).
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        key_serializer="raw",
        value_serializer="raw",
        autodiscover=False,
        web_in_thread=False,
    )
    use_rewinding_consumer(app)

    @app.timer(interval=HOLE_CHECK_INTERVAL_S)
    async def rewind_silent_holes() -> None:
        """Partitions whose records Faust dropped without a later event (streams.consumer).

        A failed check is logged and tried again at the next tick: an exception out of a Faust
        timer stops the whole worker (it did, once, on a partition revoked mid-check)."""
        try:
            await app.consumer.rewind_silent_holes(idle_s=HOLE_CHECK_INTERVAL_S * 2)
        except Exception:  # noqa: BLE001  (never let a periodic check take the worker down)
            logger.exception(
                "the silent-hole check failed; it runs again in %g s", HOLE_CHECK_INTERVAL_S
            )

    limit_idle_connections(app, settings.web_idle_timeout_s)
    topics = declare_topics(app, settings)
    tables = declare_tables(app)
    hub = ModelHub(settings) if with_models else None
    store = PipelineStore(settings) if with_models else None
    dead_letters = DeadLetterPolicy(
        topics.dead_letters, keep_payload=store.keep_dead_letter_payload if store else None
    )
    dead_letter_skipped_batches(app, dead_letters)
    readers = ClipReaders(settings.clip_read_processes, timeout_s=settings.clip_read_timeout_s)
    agents = define_agents(app, topics, tables, dead_letters, hub, store, readers)
    app.moodstream = Components(settings, topics, tables, dead_letters, agents, hub, store, readers)
    define_views(app, tables)
    if hub is not None:

        @app.task
        async def load_models() -> None:
            await hub.refresh()

        @app.timer(interval=model_refresh_s)
        async def refresh_models() -> None:
            await hub.refresh()

    return app


#: How often a worker looks for partitions that went silent after a hole (seconds).
HOLE_CHECK_INTERVAL_S = 5.0


def run_worker(settings: Settings, *, loglevel: str = "info") -> None:
    """Run one worker of the app in this process until it is stopped (blocks)."""
    from faust.worker import Worker

    ensure_topics(settings)
    app = create_app(settings)
    Path(app.conf.datadir).parent.mkdir(parents=True, exist_ok=True)
    worker = Worker(app, loglevel=loglevel)
    worker.execute_from_commandline()
