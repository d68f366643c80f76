"""The paper's recommendation flow (PAPER.md section 7) as pure functions over a user's session.

1. The user's emotion is read from a voice clip (the voice agent does that).
2. **First occurrence** of that emotion for the user: a playlist of **one random track from each
   theme** of the emotion; the user is then awaited to pick (3).
3. **Picks** (feedback) teach the preferred theme: the theme most of the picked tracks belong to.
4. Later clips with that emotion: tracks **from the preferred theme**, never repeating a track
   already recommended for it until the theme is exhausted (then the round starts again).
   A clip with a seen emotion but no pick yet gets a fresh one-per-theme playlist (still step 2
   for the user; reported as ``AWAITING_PICK``).
5. **Abandon** clears the user's emotion history: the next clip starts at 2 again.

Randomness is seeded by the request id, so a replayed request computes the same answer, and a
session remembers the request and feedback ids it has handled (the last 200), so a duplicate
produces no second answer.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass

__all__ = [
    "PLAYLIST_SIZE",
    "Answer",
    "empty_session",
    "already_handled",
    "recommend",
    "apply_feedback",
]

PLAYLIST_SIZE = 5
_REMEMBERED_IDS = 200


@dataclass(frozen=True)
class Answer:
    """What the flow decided for one clip."""

    step: str
    """FIRST_OCCURRENCE, AWAITING_PICK, PREFERRED_THEME, NO_SPEECH or NO_TRACKS."""
    track_ids: list[str]
    theme_id: int | None
    reason: str


def empty_session() -> dict:
    """A user with no history."""
    return {"emotions": {}, "handled": [], "last": None}


def already_handled(session: dict | None, event_id: str) -> bool:
    """Whether this request or feedback id was processed before (a duplicate or a replay)."""
    return bool(session) and event_id in session.get("handled", [])


def _remember(session: dict, event_id: str) -> None:
    handled = session.setdefault("handled", [])
    handled.append(event_id)
    del handled[:-_REMEMBERED_IDS]


def _rng(request_id: str) -> random.Random:
    return random.Random(int(hashlib.sha256(request_id.encode()).hexdigest()[:16], 16))


def _one_per_theme(themes: dict[str, list[str]], rng: random.Random) -> list[str]:
    return [rng.choice(themes[t]) for t in sorted(themes, key=int) if themes[t]]


def recommend(
    session: dict | None,
    *,
    request_id: str,
    emotion: str | None,
    themes: dict[str, list[str]],
    size: int = PLAYLIST_SIZE,
) -> tuple[dict, Answer]:
    """The next answer for a clip and the updated session.

    Parameters
    ----------
    session : dict or None
        The user's session (None: a new user).
    emotion : str or None
        The clip's emotion; None when the clip held no speech.
    themes : dict
        The catalog of ``emotion``: theme id (as a string) -> track ids.
    """
    session = {**empty_session(), **(session or {})}
    session["emotions"] = {k: dict(v) for k, v in session["emotions"].items()}
    _remember(session, request_id)
    if emotion is None:
        return session, Answer("NO_SPEECH", [], None, "no speech was heard in the clip")
    if not any(themes.values()):
        return session, Answer("NO_TRACKS", [], None, f"no {emotion} tracks are in the catalog yet")
    rng = _rng(request_id)
    state = session["emotions"].get(emotion)
    if state is None or state.get("preferred_theme") is None:
        tracks = _one_per_theme(themes, rng)
        step = "FIRST_OCCURRENCE" if state is None else "AWAITING_PICK"
        session["emotions"][emotion] = {
            "preferred_theme": None,
            "recommended": [],
            "offered": tracks,
        }
        session["last"] = {"request_id": request_id, "emotion": emotion}
        reason = f"first {emotion} mood: one track from each of the {len(tracks)} {emotion} themes"
        if step == "AWAITING_PICK":
            reason = f"{emotion} again, no pick yet: one track from each {emotion} theme"
        return session, Answer(step, tracks, None, reason)
    theme = state["preferred_theme"]
    pool = list(themes.get(str(theme), []))
    if not pool:  # the preferred theme vanished from the catalog: offer every theme again
        state["preferred_theme"] = None
        session["emotions"][emotion] = state
        return recommend(
            session, request_id=request_id + "#retry", emotion=emotion, themes=themes, size=size
        )
    fresh = [t for t in pool if t not in state.get("recommended", [])]
    if not fresh:  # exhausted: start a new round of the same theme
        state["recommended"] = []
        fresh = pool
    rng.shuffle(fresh)
    tracks = fresh[:size]
    state["recommended"] = [*state.get("recommended", []), *tracks]
    session["emotions"][emotion] = state
    session["last"] = {"request_id": request_id, "emotion": emotion}
    reason = f"{emotion} mood: tracks of your preferred {emotion} theme {theme}"
    return session, Answer("PREFERRED_THEME", tracks, theme, reason)


def apply_feedback(
    session: dict | None,
    *,
    feedback_id: str,
    action: str,
    track_ids: list[str],
    theme_of: dict[str, tuple[str, int]],
) -> dict:
    """The session after a PICK (learn the preferred theme) or an ABANDON (clear the history).

    ``theme_of`` maps the picked track ids to (emotion, theme id).
    """
    session = {**empty_session(), **(session or {})}
    session["emotions"] = {k: dict(v) for k, v in session["emotions"].items()}
    _remember(session, feedback_id)
    if action == "ABANDON":
        session["emotions"] = {}
        session["last"] = None
        return session
    votes: dict[str, Counter] = {}
    for track_id in track_ids:
        if track_id in theme_of:
            emotion, theme = theme_of[track_id]
            votes.setdefault(emotion, Counter())[theme] += 1
    for emotion, counter in votes.items():
        state = session["emotions"].setdefault(emotion, {"recommended": [], "offered": []})
        state["preferred_theme"] = counter.most_common(1)[0][0]
        state["recommended"] = [
            *state.get("recommended", []),
            *[t for t in track_ids if t in theme_of],
        ]
    return session
