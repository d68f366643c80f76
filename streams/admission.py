"""How many clips one listener may have answered per time window (issue 19, fairness).

A worker answers the clips of its partitions in offset order, so a burst from one listener
(70 clips of 30 s each, probed) sits in front of every other listener on those partitions.
:class:`ListenerAdmission` refuses a listener's clip once that listener has had ``limit`` clips
admitted within ``window_s`` seconds, *before* the clip is decoded: a refusal costs microseconds,
and the refused clip goes to the dead-letter topic with its payload (nothing is lost; the
producer may send it again later).

The window runs on the clips' own Kafka timestamps, not on the worker's clock: after a restart
a worker reads a backlog in a burst, and clips that were sent seconds apart must not look like
a burst then. (A producer that forges timestamps can pass the bound, as can one that spreads a
burst over many listener ids; the bound is per listener, because the listener is the unit a
Kafka key, and so a partition, is made of.)

State is per worker and in memory (a listener's clips all reach one worker: they are keyed by
listener); it is bounded: at most ``max_listeners`` listeners are tracked, least recently seen
first out.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from streams.exceptions import ListenerBusyError

__all__ = ["ListenerAdmission"]


class ListenerAdmission:
    """At most ``limit`` admitted clips per listener within any ``window_s`` seconds."""

    def __init__(self, limit: int, window_s: float, *, max_listeners: int = 100_000) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError(f"limit {limit} and window {window_s} s must both be positive")
        self.limit = limit
        self.window_s = window_s
        self.max_listeners = max_listeners
        self._admitted: OrderedDict[str, deque[float]] = OrderedDict()

    def admit(self, user_id: str, at_s: float) -> None:
        """Admit ``user_id``'s clip stamped ``at_s`` (seconds), or refuse it.

        Raises:
            ListenerBusyError: the listener already had ``limit`` clips admitted within the
                ``window_s`` seconds before ``at_s``.
        """
        stamps = self._admitted.get(user_id)
        if stamps is None:
            stamps = self._admitted[user_id] = deque()
            while len(self._admitted) > self.max_listeners:
                self._admitted.popitem(last=False)
        else:
            self._admitted.move_to_end(user_id)
        while stamps and stamps[0] <= at_s - self.window_s:
            stamps.popleft()
        if len(stamps) >= self.limit:
            raise ListenerBusyError(
                f"listener {user_id!r} sent more than {self.limit} clips within "
                f"{self.window_s:g} s; this clip was not read: send it again later"
            )
        stamps.append(at_s)

    def __len__(self) -> int:
        return len(self._admitted)
