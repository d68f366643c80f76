"""How much one listener may have answered per time window (issue 19, fairness).

A worker answers the clips of its partitions in offset order, so a burst from one listener
(70 clips of 30 s each, probed) sits in front of every other listener on those partitions.
:class:`ListenerAdmission` refuses a listener's clip, *before* the clip is decoded, once that
listener has had ``limit`` clips, or ``audio_limit_s`` seconds of audio, admitted within
``window_s`` seconds. Audio seconds are what a clip costs (reading a 29 s clip costs ten times
a 3 s one), so they bound what a burst of long clips can take from everyone else. A refusal
costs microseconds, and the refused clip goes to the dead-letter topic with its payload
(nothing is lost; the producer may send it again later). A listener with nothing in its window
always has one clip admitted (the clip gate bounds its length).

A clip's seconds are what its header states (:func:`models.audio.stated_duration_s`), known
before decoding; a clip whose header does not say (MP3, OGG, ...) is charged its decoded length
afterwards (:meth:`ListenerAdmission.settle`), so it counts against the listener's next clips.

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

import math
from collections import OrderedDict, deque
from dataclasses import dataclass

from streams.exceptions import ListenerBusyError

__all__ = ["AdmittedClip", "ListenerAdmission"]


@dataclass
class AdmittedClip:
    """One admitted clip in its listener's window: its timestamp and the audio seconds charged."""

    at_s: float
    seconds: float


class ListenerAdmission:
    """At most ``limit`` admitted clips, and ``audio_limit_s`` seconds of their audio, per
    listener within any ``window_s`` seconds."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        audio_limit_s: float = math.inf,
        max_listeners: int = 100_000,
    ) -> None:
        if limit < 1 or window_s <= 0 or audio_limit_s <= 0:
            raise ValueError(
                f"limit {limit}, window {window_s} s and audio limit {audio_limit_s} s must all "
                "be positive"
            )
        self.limit = limit
        self.window_s = window_s
        self.audio_limit_s = audio_limit_s
        self.max_listeners = max_listeners
        self._admitted: OrderedDict[str, deque[AdmittedClip]] = OrderedDict()

    def admit(self, user_id: str, at_s: float, seconds: float = 0.0) -> AdmittedClip:
        """Admit ``user_id``'s clip stamped ``at_s`` (seconds) holding ``seconds`` of audio (0
        when not yet known: :meth:`settle` it after decoding), or refuse it.

        Raises:
            ListenerBusyError: the listener already had ``limit`` clips, or would go over
                ``audio_limit_s`` seconds of audio, within the ``window_s`` seconds before ``at_s``.
        """
        window = self._admitted.get(user_id)
        if window is None:
            window = self._admitted[user_id] = deque()
            while len(self._admitted) > self.max_listeners:
                self._admitted.popitem(last=False)
        else:
            self._admitted.move_to_end(user_id)
        while window and window[0].at_s <= at_s - self.window_s:
            window.popleft()
        if len(window) >= self.limit:
            raise ListenerBusyError(
                f"listener {user_id!r} sent more than {self.limit} clips within "
                f"{self.window_s:g} s; this clip was not read: send it again later"
            )
        queued_s = sum(clip.seconds for clip in window)
        if window and queued_s + seconds > self.audio_limit_s:
            raise ListenerBusyError(
                f"listener {user_id!r} sent {queued_s:.1f} s of audio within {self.window_s:g} s; "
                f"this {seconds:.1f} s clip would pass the limit of {self.audio_limit_s:g} s and "
                "was not read: send it again later"
            )
        admitted = AdmittedClip(at_s=at_s, seconds=seconds)
        window.append(admitted)
        return admitted

    @staticmethod
    def settle(admitted: AdmittedClip, seconds: float) -> None:
        """Charge an admitted clip its decoded length (its header did not state one)."""
        admitted.seconds = seconds

    def __len__(self) -> int:
        return len(self._admitted)
