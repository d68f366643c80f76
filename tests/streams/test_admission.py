"""The per-listener clip bound (issue 19, fairness)."""

from __future__ import annotations

import pytest

from streams.admission import ListenerAdmission
from streams.exceptions import ListenerBusyError


def test_a_listener_gets_limit_clips_per_window_and_others_are_not_affected() -> None:
    admission = ListenerAdmission(limit=3, window_s=10.0)
    for t in (0.0, 1.0, 2.0):
        admission.admit("ann", t)
    with pytest.raises(ListenerBusyError, match="more than 3 clips within 10 s"):
        admission.admit("ann", 3.0)
    admission.admit("bob", 3.0)  # another listener is not held up
    admission.admit("ann", 10.5)  # the clip of t=0 has left the window
    with pytest.raises(ListenerBusyError):
        admission.admit("ann", 10.6)


def test_a_refused_clip_does_not_use_up_the_window() -> None:
    admission = ListenerAdmission(limit=1, window_s=5.0)
    admission.admit("ann", 0.0)
    for t in (1.0, 2.0, 3.0):
        with pytest.raises(ListenerBusyError):
            admission.admit("ann", t)
    admission.admit("ann", 5.5)


def test_the_tracked_listeners_are_bounded_least_recent_first_out() -> None:
    admission = ListenerAdmission(limit=1, window_s=60.0, max_listeners=2)
    admission.admit("ann", 0.0)
    admission.admit("bob", 1.0)
    admission.admit("cy", 2.0)  # ann is forgotten
    assert len(admission) == 2
    admission.admit("ann", 3.0)  # so she is admitted again
    with pytest.raises(ListenerBusyError):
        admission.admit("cy", 4.0)


def test_a_bound_that_cannot_work_is_refused() -> None:
    with pytest.raises(ValueError):
        ListenerAdmission(limit=0, window_s=10.0)
    with pytest.raises(ValueError):
        ListenerAdmission(limit=1, window_s=10.0, audio_limit_s=0.0)


def test_audio_seconds_bound_a_burst_of_long_clips_before_its_count_does() -> None:
    admission = ListenerAdmission(limit=10, window_s=10.0, audio_limit_s=60.0)
    admission.admit("ann", 0.0, 29.0)
    admission.admit("ann", 0.1, 29.0)
    with pytest.raises(ListenerBusyError, match=r"58\.0 s of audio within 10 s.*limit of 60 s"):
        admission.admit("ann", 0.2, 29.0)
    admission.admit("ann", 0.3, 2.0)  # a short clip still fits: 60 s exactly
    admission.admit("bob", 0.3, 29.0)  # another listener has a window of its own
    admission.admit("ann", 10.05, 29.0)  # the first clip has left the window: 31 + 29


def test_one_clip_is_always_admitted_into_an_empty_window_whatever_its_length() -> None:
    admission = ListenerAdmission(limit=10, window_s=10.0, audio_limit_s=5.0)
    admission.admit("ann", 0.0, 29.0)
    with pytest.raises(ListenerBusyError):
        admission.admit("ann", 1.0, 1.0)


def test_a_clip_of_unstated_length_counts_once_settled() -> None:
    admission = ListenerAdmission(limit=10, window_s=10.0, audio_limit_s=30.0)
    unknown = admission.admit("ann", 0.0)  # an MP3: its header states no length
    admission.admit("ann", 0.1, 20.0)  # the unknown clip counts 0 s until it is decoded
    admission.settle(unknown, 25.0)
    with pytest.raises(ListenerBusyError, match=r"45\.0 s of audio"):
        admission.admit("ann", 0.2, 1.0)
