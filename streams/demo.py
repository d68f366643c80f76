"""``moodstream demo``: the main job on the local stack.

Until the crawler and the models land, the demo runs the thin ingest path end to end: a worker
starts, tracks are announced on ``tracks.discovered`` by an outside kafka-python producer (one of
them twice, and one garbage message), and the demo prints what the worker registered, what it
forwarded and what it dead-lettered.
"""

from __future__ import annotations

import logging
import time
import uuid

import click
from kafka import KafkaConsumer, KafkaProducer

from schemas.codec import codec_for
from streams.settings import Settings
from streams.worker_process import WorkerProcess

__all__ = ["run_demo"]

logger = logging.getLogger(__name__)

_TITLES = [
    "Rain on Glass",
    "Sunday Morning",
    "Iron Storm",
    "Still Water",
    "Last Letter",
    "Open Road",
]


def _discovered(i: int, title: str) -> dict:
    return {
        "track_id": f"demo-{i:03d}",
        "source_site": "demo",
        "source_url": f"http://127.0.0.1/demo/{i}",
        "metadata": {
            "title": title,
            "singer": "Demo Band",
            "author": "",
            "duration_s": 180.0,
            "album": "Demo",
        },
        "object_key": f"demo/{i}.ogg",
        "content_sha256": uuid.uuid5(uuid.NAMESPACE_URL, title).hex * 2,
        "playlist_emotion": None,
        "discovered_at": int(time.time() * 1000),
    }


def _read(settings: Settings, topic: str, expected: int, timeout_s: float = 60.0) -> list:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, group_id=None,
    )  # fmt: skip
    out: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                out.extend(batch)
    finally:
        consumer.close()
    return out


def run_demo(settings: Settings) -> None:
    """Run the demo against the running local stack and print what happened."""
    run = uuid.uuid4().hex[:6]
    settings = settings.replace(topic_prefix=f"demo-{run}", app_id=f"demo-{run}")
    worker = WorkerProcess(settings, settings.home / "logs")
    click.echo(f"starting a worker (topics {settings.topic_prefix}.*, log {worker.log_path}) ...")
    worker.start()
    try:
        codec = codec_for("TrackDiscovered")
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        events = [_discovered(i, t) for i, t in enumerate(_TITLES)]
        for event in [*events, events[0]]:
            producer.send(
                settings.topic("tracks.discovered"),
                key=event["track_id"].encode(),
                value=codec.encode(event),
            )
        producer.send(settings.topic("tracks.discovered"), key=b"junk", value=b"not an event")
        producer.flush()
        producer.close()
        click.echo(f"announced {len(events)} tracks, one of them twice, and one garbage message")
        registered = _read(settings, settings.topic("tracks.registered"), len(events))
        letters = _read(settings, settings.topic("deadletters"), 1)
        click.echo(f"\nregistered and forwarded once each ({len(registered)}):")
        for message in registered:
            entry = worker.get(f"/api/tracks/{message.key.decode()}")
            click.echo(f"  {entry['track_id']:<10} {entry['discovered']['metadata']['title']}")
        for message in letters:
            letter = codec_for("DeadLetter").decode(message.value)
            click.echo(
                f"\ndead letter: {letter['source_topic']}[{letter['source_partition']}]@"
                f"{letter['source_offset']}: {letter['error_kind']}: {letter['message']}"
            )
    finally:
        worker.stop()
