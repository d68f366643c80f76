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
