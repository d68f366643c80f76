"""The paper's recommendation flow (section 7), as pure functions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.voice_candidates import N_FUNCTIONALS
from streams.exceptions import FeedbackRefusedError
from streams.limits import MAX_FEEDBACK_TRACKS, MAX_ID_CHARS
from streams.recommendation import (
    MAX_OFFERED,
    MAX_RECOMMENDED,
    MAX_REMEMBERED_IDS,
    already_handled,
    apply_feedback,
    mood_is_uncertain,
    normalise_session,
    recommend,
    remember_voice,
    uncertain_reason,
)
from streams.tables import MAX_VALUE_BYTES

THEMES = {"0": ["a1", "a2"], "1": ["b1", "b2", "b3"], "3": ["c1"]}
THEME_OF = {t: ("sad", int(theme)) for theme, ids in THEMES.items() for t in ids}


def test_first_occurrence_gives_one_random_track_per_theme() -> None:
    session, answer = recommend(None, request_id="r1", emotion="sad", themes=THEMES)
    assert answer.step == "FIRST_OCCURRENCE" and answer.theme_id is None
    assert [THEME_OF[t][1] for t in answer.track_ids] == [0, 1, 3]
    # Seeded by the request id: a replay computes the same answer; another request may differ.
    assert recommend(None, request_id="r1", emotion="sad", themes=THEMES)[1] == answer
    picks = {
        tuple(recommend(None, request_id=f"r{i}", emotion="sad", themes=THEMES)[1].track_ids)
        for i in range(30)
    }
    assert len(picks) > 1
    assert already_handled(session, "r1") and not already_handled(session, "r2")


def test_picks_teach_the_preferred_theme_and_later_clips_follow_it_without_repeats() -> None:
    session, first = recommend(None, request_id="r1", emotion="sad", themes=THEMES)
    (picked,) = [t for t in first.track_ids if THEME_OF[t][1] == 1]  # the theme-1 track offered
    session = apply_feedback(
        session, feedback_id="f1", action="PICK", track_ids=[picked], theme_of=THEME_OF
    )
    seen = []
    for i in range(2):
        session, answer = recommend(
            session, request_id=f"r{i + 2}", emotion="sad", themes=THEMES, size=1
        )
        assert answer.step == "PREFERRED_THEME" and answer.theme_id == 1
        seen += answer.track_ids
    # The picked track is not offered again; no repeats.
    assert sorted(seen) == sorted(t for t in THEMES["1"] if t != picked)
    session, answer = recommend(session, request_id="r9", emotion="sad", themes=THEMES, size=3)
    assert sorted(answer.track_ids) == ["b1", "b2", "b3"]  # exhausted: a new round


def test_seen_emotion_without_a_pick_offers_every_theme_again() -> None:
    session, _ = recommend(None, request_id="r1", emotion="sad", themes=THEMES)
    _, answer = recommend(session, request_id="r2", emotion="sad", themes=THEMES)
    assert answer.step == "AWAITING_PICK" and len(answer.track_ids) == 3


def test_abandon_clears_the_history_and_the_flow_starts_over() -> None:
    session, first = recommend(None, request_id="r1", emotion="sad", themes=THEMES)
    session = apply_feedback(
        session, feedback_id="f1", action="PICK", track_ids=first.track_ids[:1], theme_of=THEME_OF
    )
    session = apply_feedback(session, feedback_id="f2", action="ABANDON", track_ids=[], theme_of={})
    assert session["emotions"] == {}
    _, answer = recommend(session, request_id="r3", emotion="sad", themes=THEMES)
    assert answer.step == "FIRST_OCCURRENCE"


def test_no_speech_and_no_tracks_are_explicit() -> None:
    _, answer = recommend(None, request_id="r1", emotion=None, themes={})
    assert answer.step == "NO_SPEECH" and answer.track_ids == []
    _, answer = recommend(None, request_id="r2", emotion="calm", themes={})
    assert answer.step == "NO_TRACKS" and "calm" in answer.reason


# --- bounds: a client cannot grow a session without limit (issue 15, item 1) ---------------


def test_a_pick_must_name_tracks_that_were_offered() -> None:
    session, first = recommend(None, request_id="r1", emotion="sad", themes=THEMES)
    not_offered = next(t for t in THEME_OF if t not in first.track_ids)
    with pytest.raises(FeedbackRefusedError, match="was not offered to this listener"):
        apply_feedback(
            session, feedback_id="f1", action="PICK", track_ids=[not_offered], theme_of=THEME_OF
        )
    with pytest.raises(FeedbackRefusedError, match="was not offered"):
        apply_feedback(None, feedback_id="f1", action="PICK", track_ids=["a1"], theme_of=THEME_OF)
    with pytest.raises(FeedbackRefusedError, match="at least one track"):
        apply_feedback(session, feedback_id="f1", action="PICK", track_ids=[], theme_of=THEME_OF)
    many = [f"t{i}" for i in range(MAX_FEEDBACK_TRACKS + 1)]
    with pytest.raises(FeedbackRefusedError, match="the limit is 50"):
        apply_feedback(session, feedback_id="f1", action="PICK", track_ids=many, theme_of={})


def test_one_offered_track_picked_37000_times_counts_once() -> None:
    session, first = recommend(None, request_id="r1", emotion="sad", themes=THEMES)
    picked = first.track_ids[0]
    after = apply_feedback(
        session, feedback_id="f1", action="PICK", track_ids=[picked] * 37_000, theme_of=THEME_OF
    )
    assert after["emotions"]["sad"]["recommended"] == [picked]
    assert len(json.dumps(after)) < 1_000


def _worst_case_session() -> dict:
    """Every list full, every id as long as ids may be."""

    def ids(prefix: str, n: int) -> list[str]:
        return [f"{prefix}{i}".ljust(MAX_ID_CHARS, "x") for i in range(n)]

    return {
        "emotions": {
            e: {
                "preferred_theme": 1,
                "offered": ids(f"o{e}", MAX_OFFERED),
                "recommended": ids(f"r{e}", MAX_RECOMMENDED),
            }
            for e in ("sad", "happy", "angry", "calm")
        },
        "handled": ids("h", MAX_REMEMBERED_IDS),
        "last": {"request_id": "x" * MAX_ID_CHARS, "emotion": "sad"},
        # A voice history's sums at full float precision, negative: the longest JSON floats.
        "voice": {"n": 10**9, "sum": [-1.2345678901234567e-300] * N_FUNCTIONALS},
    }


def test_the_largest_session_the_bounds_allow_fits_the_sessions_table_bound() -> None:
    worst = _worst_case_session()
    assert normalise_session(worst) == worst  # already within every bound
    assert len(json.dumps(worst, separators=(",", ":"))) < MAX_VALUE_BYTES["sessions"]


def test_an_oversize_stored_session_is_repaired_keeping_the_most_recent_ids() -> None:
    """The session that killed the worker: ~17 MB of repeated picks, grown before the bounds."""
    grown = {
        "emotions": {
            "sad": {
                "preferred_theme": 1,
                "offered": ["b1", "b2"],
                "recommended": ["b2"] * 700_000 + [f"r{i}" for i in range(1_000)],
            },
            "bogus": {"recommended": ["x"] * 10},
        },
        "handled": [f"id{i}" for i in range(5_000)],
        "last": {"request_id": "r1", "emotion": "sad"},
    }
    assert len(json.dumps(grown)) > 4_000_000
    fixed = normalise_session(grown)
    assert set(fixed["emotions"]) == {"sad"}
    recommended = fixed["emotions"]["sad"]["recommended"]
    assert len(recommended) == MAX_RECOMMENDED and recommended[-1] == "r999"
    assert fixed["handled"] == [f"id{i}" for i in range(4_800, 5_000)]
    assert fixed["emotions"]["sad"]["preferred_theme"] == 1
    assert len(json.dumps(fixed)) < MAX_VALUE_BYTES["sessions"]
    # A pick applied to it writes back a bounded session.
    after = apply_feedback(grown, feedback_id="f", action="PICK", track_ids=["b1"], theme_of={})
    assert len(json.dumps(after)) < MAX_VALUE_BYTES["sessions"]


def test_a_reading_below_the_confidence_threshold_says_the_mood_is_uncertain() -> None:
    probs = {"sad": 0.41, "happy": 0.12, "angry": 0.14, "calm": 0.33}
    assert mood_is_uncertain(probs, 0.5)
    assert not mood_is_uncertain(probs, 0.4)
    assert not mood_is_uncertain({}, 0.5)  # no speech: nothing to be uncertain about
    reason = uncertain_reason("first sad mood: one track from each of the 3 sad themes", probs)
    assert reason == (
        "your mood is uncertain (sad 41 %, calm 33 %); going with the likeliest. "
        "first sad mood: one track from each of the 3 sad themes"
    )


def test_the_voice_history_adds_each_clip_and_survives_abandon_but_not_junk() -> None:
    session = normalise_session(None)
    assert session["voice"] is None
    first, second = np.arange(N_FUNCTIONALS, dtype=float), np.ones(N_FUNCTIONALS)
    session = remember_voice(remember_voice(session, first), second)
    assert session["voice"]["n"] == 2
    np.testing.assert_allclose(session["voice"]["sum"], first + second)
    after = apply_feedback(session, feedback_id="f-1", action="ABANDON", track_ids=[], theme_of={})
    assert after["emotions"] == {} and after["voice"] == session["voice"]
    for junk in ({"n": 2, "sum": [1.0]}, {"n": -1, "sum": [0.0] * N_FUNCTIONALS}, "x"):
        assert normalise_session({**session, "voice": junk})["voice"] is None
