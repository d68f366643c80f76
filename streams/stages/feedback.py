"""Feedback: picks and abandons teach a listener's session.

- in: ``feedback`` (``UserFeedback``, any key or partitioner), then ``feedback.by-user``
- out: ``feedback.by-user`` (the same bytes, keyed by the user id, on the partition of the
  listener's session: Kafka's murmur2 of the user id, :mod:`streams.routing`)
- table: ``sessions`` (picks teach the preferred theme, an abandon clears it)
- delivery: at least once; a feedback id the session has already applied is skipped. An event
  over 64 KiB is refused undecoded.
"""

from __future__ import annotations

import asyncio

import faust

from schemas.codec import codec_for
from streams.deadletter import DeadLetterPolicy
from streams.events import check_feedback_event
from streams.limits import MAX_FEEDBACK_EVENT_BYTES, check_event_size
from streams.recommendation import already_handled, apply_feedback
from streams.stages.loops import each_event, user_router
from streams.tables import put_bounded

__all__ = ["Feedback"]


class Feedback:
    """The ``route_feedback`` and ``learn_feedback`` agents and their handling."""

    def __init__(
        self, feedback: faust.TopicT, by_user: faust.TopicT, sessions, cards,
        dead_letters: DeadLetterPolicy, partitions: int,
    ) -> None:  # fmt: skip
        self.feedback, self.by_user = feedback, by_user
        self.sessions, self.cards, self.dead_letters = sessions, cards, dead_letters
        self.codec = codec_for("UserFeedback")
        self.route = user_router(
            by_user, self.codec, "feedback", MAX_FEEDBACK_EVENT_BYTES, partitions
        )

    def read(self, value: bytes, key: bytes | None) -> dict:
        check_event_size("feedback", len(value), MAX_FEEDBACK_EVENT_BYTES)
        return check_feedback_event(self.codec.decode(value), key)

    async def learn(self, event: faust.EventT) -> None:
        """Apply one listener's feedback to their session."""
        feedback = self.read(event.value, event.message.key)
        user_id = feedback["user_id"]
        session = self.sessions.get(user_id)
        if already_handled(session, feedback["feedback_id"]):
            return
        theme_of = {}
        for track_id in feedback["track_ids"]:  # at most MAX_FEEDBACK_TRACKS
            card = self.cards.get(track_id)
            if card is not None:
                theme_of[track_id] = (card["emotion"], int(card["theme_id"]))
        new_session = await asyncio.to_thread(
            apply_feedback,
            session,
            feedback_id=feedback["feedback_id"],
            action=feedback["action"],
            track_ids=feedback["track_ids"],
            theme_of=theme_of,
        )
        put_bounded(self.sessions, user_id, new_session)

    def define(self, app: faust.App) -> dict:
        @app.agent(self.feedback, name="route_feedback")
        async def route_feedback(stream: faust.StreamT) -> None:
            """feedback (any partitioner) -> feedback.by-user, on the listener's partition."""
            await each_event(
                stream, source="feedback", service="route_feedback", handle=self.route,
                dead_letters=self.dead_letters,
            )  # fmt: skip

        @app.agent(self.by_user, name="learn_feedback")
        async def learn_feedback(stream: faust.StreamT) -> None:
            """feedback.by-user -> the user's session: picks teach the preferred theme, abandon
            clears it."""
            await each_event(
                stream, source="feedback.by-user", service="learn_feedback", handle=self.learn,
                dead_letters=self.dead_letters,
            )  # fmt: skip

        return {"route_feedback": route_feedback, "learn_feedback": learn_feedback}
