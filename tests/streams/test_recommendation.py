"""The paper's recommendation flow (section 7), as pure functions."""

from __future__ import annotations

from streams.recommendation import already_handled, apply_feedback, recommend

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
    session, _ = recommend(None, request_id="r1", emotion="sad", themes=THEMES)
    session = apply_feedback(
        session, feedback_id="f1", action="PICK", track_ids=["b2"], theme_of=THEME_OF
    )
    seen = []
    for i in range(2):
        session, answer = recommend(
            session, request_id=f"r{i + 2}", emotion="sad", themes=THEMES, size=1
        )
        assert answer.step == "PREFERRED_THEME" and answer.theme_id == 1
        seen += answer.track_ids
    assert sorted(seen) == ["b1", "b3"]  # the picked b2 is not offered again; no repeats
    session, answer = recommend(session, request_id="r9", emotion="sad", themes=THEMES, size=3)
    assert sorted(answer.track_ids) == ["b1", "b2", "b3"]  # exhausted: a new round


def test_seen_emotion_without_a_pick_offers_every_theme_again() -> None:
    session, _ = recommend(None, request_id="r1", emotion="sad", themes=THEMES)
    _, answer = recommend(session, request_id="r2", emotion="sad", themes=THEMES)
    assert answer.step == "AWAITING_PICK" and len(answer.track_ids) == 3


def test_abandon_clears_the_history_and_the_flow_starts_over() -> None:
    session, _ = recommend(None, request_id="r1", emotion="sad", themes=THEMES)
    session = apply_feedback(
        session, feedback_id="f1", action="PICK", track_ids=["a1"], theme_of=THEME_OF
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
