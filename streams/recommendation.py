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

Sessions are bounded whatever a client sends: a PICK may only name tracks that were offered to
that listener (at most ``MAX_FEEDBACK_TRACKS`` of them), each emotion keeps the last
``MAX_OFFERED`` offered and ``MAX_RECOMMENDED`` recommended track ids, and every function here
first passes the stored session through :func:`normalise_session`, which also repairs a session
stored before these bounds existed (a worker restarted on such a store trims it on the listener's
next event instead of failing to write it back).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.voice_candidates import add_to_history, valid_history
from schemas.emotions import EMOTIONS
from streams.exceptions import FeedbackRefusedError
from streams.limits import MAX_FEEDBACK_TRACKS, MAX_ID_CHARS

__all__ = [
    "PLAYLIST_SIZE",
    "MAX_REMEMBERED_IDS",
    "MAX_OFFERED",
    "MAX_RECOMMENDED",
    "Answer",
    "empty_session",
    "normalise_session",
    "offered_tracks",
    "already_handled",
    "recommend",
    "remember_voice",
    "mood_is_uncertain",
    "uncertain_reason",
    "check_pick",
    "apply_feedback",
]

PLAYLIST_SIZE = 5
#: Request and feedback ids a session remembers (duplicates and replays inside this window are
#: recognised).
MAX_REMEMBERED_IDS = 200
#: Offered track ids an emotion keeps (what a PICK may name).
MAX_OFFERED = 50
#: Recommended track ids an emotion keeps (no repeats among these until the theme runs out).
MAX_RECOMMENDED = 200


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
    return {"emotions": {}, "handled": [], "last": None, "voice": None}


def _bounded_ids(values: object, limit: int) -> list[str]:
    """The last ``limit`` distinct ids of ``values`` in order (junk dropped)."""
    if not isinstance(values, list):
        return []
    kept: dict[str, None] = {}
    for value in reversed(values):
        if isinstance(value, str) and len(value) <= MAX_ID_CHARS and value not in kept:
            kept[value] = None
            if len(kept) == limit:
                break
    return list(reversed(kept))


def normalise_session(session: dict | None) -> dict:
    """A copy of ``session`` in the current shape and within every bound.

    Safe on anything a table may hold: a session from an older version, or one grown past the
    bounds before they existed, comes back trimmed (the most recent ids kept).
    """
    if not isinstance(session, dict):
        return empty_session()
    emotions = {}
    stored = session.get("emotions")
    for emotion, state in stored.items() if isinstance(stored, dict) else ():
        if emotion not in EMOTIONS or not isinstance(state, dict):
            continue
        preferred = state.get("preferred_theme")
        emotions[emotion] = {
            "preferred_theme": preferred if isinstance(preferred, int) else None,
            "offered": _bounded_ids(state.get("offered"), MAX_OFFERED),
            "recommended": _bounded_ids(state.get("recommended"), MAX_RECOMMENDED),
        }
    last = session.get("last")
    voice = session.get("voice")
    return {
        "emotions": emotions,
        "handled": _bounded_ids(session.get("handled"), MAX_REMEMBERED_IDS),
        "last": last if isinstance(last, dict) else None,
        "voice": voice if valid_history(voice) else None,
    }


def remember_voice(session: dict, functionals) -> dict:
    """``session`` with one more clip in the listener's voice history (what listener-normalised
    voice models read: the count and sum of the earlier clips' functionals). ABANDON keeps it:
    it describes the voice, not the moods."""
    return {**session, "voice": add_to_history(session.get("voice"), functionals)}


def offered_tracks(session: dict | None) -> set[str]:
    """Every track id a PICK from this listener may name: what was offered or recommended."""
    out: set[str] = set()
    for state in normalise_session(session)["emotions"].values():
        out.update(state["offered"])
        out.update(state["recommended"])
    return out


def already_handled(session: dict | None, event_id: str) -> bool:
    """Whether this request or feedback id was processed before (a duplicate or a replay)."""
    return isinstance(session, dict) and event_id in (session.get("handled") or ())


def _remember(session: dict, event_id: str) -> None:
    session["handled"] = _bounded_ids([*session["handled"], event_id], MAX_REMEMBERED_IDS)


def _rng(request_id: str) -> random.Random:
    return random.Random(int(hashlib.sha256(request_id.encode()).hexdigest()[:16], 16))


def _one_per_theme(themes: Mapping[str, Sequence[str]], rng: random.Random) -> list[str]:
    return [rng.choice(themes[t]) for t in sorted(themes, key=int) if themes[t]]


def _draw_fresh(pool: Sequence[str], already: set[str], size: int, rng: random.Random) -> list[str]:
    """Up to ``size`` tracks of ``pool`` not in ``already``, drawn at random positions.

    Costs O(size + len(already)) whatever the pool's size: at most ``len(already)`` of the
    drawn positions hold a track recommended before.
    """
    positions = rng.sample(range(len(pool)), min(len(pool), size + len(already)))
    drawn = (pool[i] for i in positions)
    return [track for track in drawn if track not in already][:size]


def recommend(
    session: dict | None,
    *,
    request_id: str,
    emotion: str | None,
    themes: Mapping[str, Sequence[str]],
    size: int = PLAYLIST_SIZE,
) -> tuple[dict, Answer]:
    """The next answer for a clip and the updated session.

    Parameters
    ----------
    session : dict or None
        The user's session (None: a new user).
    emotion : str or None
        The clip's emotion; None when the clip held no speech.
    themes : mapping
        The catalog of ``emotion``: theme id (as a string) -> track ids (any sequence: the
        catalog index's sorted lists are read in place, never copied).
    """
    session = normalise_session(session)
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
        earlier = state["offered"] if state is not None else []
        session["emotions"][emotion] = {
            "preferred_theme": None,
            "recommended": [],
            "offered": _bounded_ids([*earlier, *tracks], MAX_OFFERED),
        }
        session["last"] = {"request_id": request_id, "emotion": emotion}
        reason = f"first {emotion} mood: one track from each of the {len(tracks)} {emotion} themes"
        if step == "AWAITING_PICK":
            reason = f"{emotion} again, no pick yet: one track from each {emotion} theme"
        return session, Answer(step, tracks, None, reason)
    theme = state["preferred_theme"]
    pool = themes.get(str(theme)) or ()
    if not pool:  # the preferred theme vanished from the catalog: offer every theme again
        state["preferred_theme"] = None
        session["emotions"][emotion] = state
        return recommend(
            session, request_id=request_id + "#retry", emotion=emotion, themes=themes, size=size
        )
    tracks = _draw_fresh(pool, set(state["recommended"]), size, rng)
    if not tracks:  # exhausted: start a new round of the same theme
        state["recommended"] = []
        tracks = _draw_fresh(pool, set(), size, rng)
    state["recommended"] = _bounded_ids([*state["recommended"], *tracks], MAX_RECOMMENDED)
    session["emotions"][emotion] = state
    session["last"] = {"request_id": request_id, "emotion": emotion}
    reason = f"{emotion} mood: tracks of your preferred {emotion} theme {theme}"
    return session, Answer("PREFERRED_THEME", tracks, theme, reason)


def mood_is_uncertain(probabilities: dict[str, float], min_confidence: float) -> bool:
    """Whether the likeliest mood's calibrated probability is below ``min_confidence``."""
    return bool(probabilities) and max(probabilities.values()) < min_confidence


def uncertain_reason(reason: str, probabilities: dict[str, float]) -> str:
    """``reason`` prefixed with what an uncertain answer must say: the mood is uncertain, and
    the two likeliest moods with their probabilities."""
    top = sorted(probabilities.items(), key=lambda item: -item[1])[:2]
    shares = ", ".join(f"{emotion} {100 * p:.0f} %" for emotion, p in top)
    return f"your mood is uncertain ({shares}); going with the likeliest. {reason}"


def check_pick(session: dict | None, track_ids: list[str]) -> list[str]:
    """The distinct picked ids, or :class:`FeedbackRefusedError` saying why the PICK is refused.

    A PICK names between 1 and ``MAX_FEEDBACK_TRACKS`` tracks, each offered to this listener
    (in a playlist it was sent since its last ABANDON).
    """
    picked = list(dict.fromkeys(track_ids))
    if not picked:
        raise FeedbackRefusedError("a PICK names at least one track id (track_ids is empty)")
    if len(picked) > MAX_FEEDBACK_TRACKS:
        raise FeedbackRefusedError(
            f"a PICK names {len(picked)} tracks; the limit is {MAX_FEEDBACK_TRACKS}"
        )
    offered = offered_tracks(session)
    unknown = [t for t in picked if t not in offered]
    if unknown:
        shown = ", ".join(repr(t[:MAX_ID_CHARS]) for t in unknown[:3])
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        raise FeedbackRefusedError(
            f"track {shown}{more} was not offered to this listener: a PICK names tracks from "
            "the playlists the listener was sent"
        )
    return picked


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

    Raises
    ------
    FeedbackRefusedError
        A PICK that :func:`check_pick` refuses; the session is left as it was.
    """
    picked = check_pick(session, track_ids) if action == "PICK" else []
    session = normalise_session(session)
    _remember(session, feedback_id)
    if action == "ABANDON":
        session["emotions"] = {}
        session["last"] = None
        return session
    votes: dict[str, Counter] = {}
    for track_id in picked:
        if track_id in theme_of:
            emotion, theme = theme_of[track_id]
            votes.setdefault(emotion, Counter())[theme] += 1
    for emotion, counter in votes.items():
        if emotion not in EMOTIONS:
            continue
        state = session["emotions"].setdefault(
            emotion, {"preferred_theme": None, "offered": [], "recommended": []}
        )
        state["preferred_theme"] = counter.most_common(1)[0][0]
        state["recommended"] = _bounded_ids(
            [*state["recommended"], *[t for t in picked if t in theme_of]], MAX_RECOMMENDED
        )
    return session
