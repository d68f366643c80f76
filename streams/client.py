"""A small client for the services that produce voice clips (kafka-python, same codec).

```python
from streams.client import MoodstreamClient

with MoodstreamClient(settings) as client:
    request_id = client.submit_clip("user-42", wav_bytes)
    answer = client.wait_for_recommendation(request_id, timeout_s=20)
    client.send_feedback("user-42", "PICK", [answer["playlist"][0]["track_id"]])
```

Answers are keyed by user on the recommendations topic; :meth:`recommendations` yields each
request's answer once (a repeated answer after a worker crash carries the same request id and
is dropped here). A record batch on the recommendations topic that cannot be read (a codec, a
decompression bomb: streams.record_batches) is skipped and dead-lettered by the client itself;
the answers before and after it still arrive.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from kafka import KafkaConsumer, KafkaProducer

from schemas.codec import codec_for
from streams.deadletter import DeadLetterPolicy
from streams.events import clip_event, feedback_event
from streams.record_batches import SkippedBatch, install_batch_guard, on_skipped_batch
from streams.settings import Settings

__all__ = ["MoodstreamClient", "NoAnswerError"]


class NoAnswerError(TimeoutError):
    """No recommendation arrived for a request in time (is a worker running?)."""


class MoodstreamClient:
    """Produce clips and feedback; consume recommendations."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        install_batch_guard()
        self._producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, acks="all", max_request_size=16 * 2**20
        )
        self._clip = codec_for("VoiceClipSubmitted")
        self._feedback = codec_for("UserFeedback")
        self._answer = codec_for("Recommendation")
        self._consumer: KafkaConsumer | None = None
        self._seen: set[str] = set()
        self._pending: dict[str, dict] = {}
        self._dead_letter = codec_for("DeadLetter")
        self._stop_watching = on_skipped_batch(self._skipped)

    def _skipped(self, skipped: SkippedBatch) -> None:
        """Dead-letter a batch of the recommendations topic that this client skipped (called
        inside ``poll``, on this client's thread)."""
        if skipped.topic != self.settings.topic("recommendations"):
            return
        record = DeadLetterPolicy.record_for_batch(skipped, service="moodstream client")
        self._producer.send(
            self.settings.topic("deadletters"), value=self._dead_letter.encode(record)
        )

    def __enter__(self) -> MoodstreamClient:
        self._subscribe()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _subscribe(self) -> KafkaConsumer:
        if self._consumer is None:
            self._consumer = KafkaConsumer(
                self.settings.topic("recommendations"), bootstrap_servers=self.settings.kafka_bootstrap,
                group_id=None, auto_offset_reset="latest", enable_auto_commit=False,
                fetch_max_bytes=16 * 2**20, max_partition_fetch_bytes=16 * 2**20,
            )  # fmt: skip
            while not self._consumer.assignment():
                self._consumer.poll(timeout_ms=100)
            for tp in self._consumer.assignment():
                self._consumer.position(tp)  # pin "latest" before anything is sent
        return self._consumer

    def submit_clip(
        self, user_id: str, audio: bytes, *, session_id: str = "", request_id: str | None = None
    ) -> str:
        """Send a clip (encoded audio bytes); return its request id."""
        self._subscribe()
        event = clip_event(user_id, audio=audio, request_id=request_id, session_id=session_id)
        self._producer.send(
            self.settings.topic("voice.clips"), key=user_id.encode(), value=self._clip.encode(event)
        ).get(timeout=30)
        return event["request_id"]

    def send_feedback(
        self, user_id: str, action: str, track_ids: list[str] = (), *, request_id: str | None = None
    ) -> str:
        """Send a PICK (with track ids) or an ABANDON; return the feedback id."""
        event = feedback_event(user_id, action, track_ids, request_id=request_id)
        self._producer.send(
            self.settings.topic("feedback"),
            key=user_id.encode(),
            value=self._feedback.encode(event),
        ).get(timeout=30)
        return event["feedback_id"]

    def recommendations(self, timeout_s: float = 1.0) -> Iterator[dict]:
        """Answers that arrived within ``timeout_s``, each request once."""
        consumer = self._subscribe()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                for message in batch:
                    answer = self._answer.decode(message.value)
                    if answer["request_id"] in self._seen:
                        continue
                    self._seen.add(answer["request_id"])
                    yield answer

    def wait_for_recommendation(self, request_id: str, timeout_s: float = 20.0) -> dict:
        """The answer to ``request_id`` (others that arrive meanwhile are kept for later)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if request_id in self._pending:
                return self._pending.pop(request_id)
            for answer in self.recommendations(timeout_s=0.3):
                self._pending[answer["request_id"]] = answer
        if request_id in self._pending:
            return self._pending.pop(request_id)
        raise NoAnswerError(f"no recommendation for request {request_id} within {timeout_s:.0f} s")

    def close(self) -> None:
        self._stop_watching()
        self._producer.close()
        if self._consumer is not None:
            self._consumer.close()
