"""The recommend agent in batches (issue 19): listeners' clips stay in order, each request is
answered once, clips are read side by side, and one listener's burst is refused. Broker-free."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections import defaultdict

import numpy as np
import pytest
import soundfile as sf

from models.voice import ClipReading, VoiceAnswer
from models.voice_candidates import N_FUNCTIONALS
from schemas.codec import codec_for
from streams.events import clip_event
from tests.schemas.samples import SAMPLE_EVENTS
from tests.streams.conftest import until

CLIP = codec_for("VoiceClipSubmitted")
RECOMMENDATION = codec_for("Recommendation")


def _wav(seconds: float = 1.0, hz: float = 220.0) -> bytes:
    t = np.arange(int(16_000 * seconds)) / 16_000
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), 16_000, format="WAV")
    return buf.getvalue()


class _Activity:
    voiced_s = 1.0


class _SadVoice:
    """Hears every clip as sad; records how many reads overlapped and each answer's history."""

    version = "voice-test"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reading = 0
        self.most_at_once = 0
        self.histories: list[int] = []

    def read(self, y: np.ndarray, *, sr: int) -> ClipReading:
        with self._lock:
            self._reading += 1
            self.most_at_once = max(self.most_at_once, self._reading)
        time.sleep(0.05)  # the features' cost, long enough for reads to overlap
        with self._lock:
            self._reading -= 1
        return ClipReading(
            _Activity(), y.size / sr, inputs=object(), functionals=np.ones(N_FUNCTIONALS)
        )

    def answer(self, reading: ClipReading, *, history: dict | None = None) -> VoiceAnswer:
        self.histories.append(int((history or {}).get("n", 0)))
        probabilities = {"sad": 0.7, "happy": 0.1, "angry": 0.1, "calm": 0.1}
        return VoiceAnswer(
            True, "sad", probabilities, 1.0, reading.duration_s, np.ones(N_FUNCTIONALS)
        )


@pytest.fixture()
def answers(test_app, monkeypatch) -> list[dict]:
    """Recommendations the app sends, decoded, in order."""
    sent: list[dict] = []

    async def capture(*, key, value, **_):
        sent.append(RECOMMENDATION.decode(value))

    monkeypatch.setattr(test_app.moodstream.topics.recommendations, "send", capture)
    return sent


@pytest.fixture()
def voice(test_app) -> _SadVoice:
    model = _SadVoice()
    test_app.moodstream.models.voice = model
    index = test_app.moodstream.tables.cards.index
    for i in range(12):
        card = {
            "emotion": "sad", "theme_id": i % 3, "object_key": f"tracks/k{i}.ogg",
            "metadata": SAMPLE_EVENTS["TrackDiscovered"]["metadata"],
        }  # fmt: skip
        test_app.moodstream.tables.cards.data[f"t-{i}"] = card
        index.place(f"t-{i}", card)
    return model


@pytest.mark.asyncio
async def test_interleaved_listeners_keep_their_order_and_each_request_is_answered_once(
    test_app, voice, answers, letters
) -> None:
    listeners = ["ann", "bob", "cy", "dee"]
    sent = []
    async with test_app.moodstream.agents["recommend"].test_context() as agent:
        for _ in range(5):
            for user in listeners:  # interleaved: ann, bob, cy, dee, ann, ...
                event = clip_event(user, audio=_wav())
                sent.append((user, event["request_id"]))
                await agent.put(CLIP.encode(event), key=user.encode())
        again = clip_event("ann", audio=_wav(), request_id=sent[0][1])  # a replayed request
        await agent.put(CLIP.encode(again), key=b"ann")
        await until(lambda: len(answers) >= len(sent) and letters == [])
        await asyncio.sleep(0.3)  # a second answer to the replay would come by now
    assert letters == []
    assert sorted(a["request_id"] for a in answers) == sorted(r for _, r in sent)  # once each
    steps: dict[str, list[str]] = defaultdict(list)
    order: dict[str, list[str]] = defaultdict(list)
    for answer in answers:
        steps[answer["user_id"]].append(answer["step"])
        order[answer["user_id"]].append(answer["request_id"])
    for user in listeners:
        assert order[user] == [r for u, r in sent if u == user]  # the listener's own order
        # The paper's flow over one session: the first sad clip starts it, the rest await a pick.
        assert steps[user] == ["FIRST_OCCURRENCE"] + ["AWAITING_PICK"] * 4
        session = test_app.moodstream.tables.sessions[user]
        assert session["handled"][-5:] == order[user]
        assert session["voice"]["n"] == 5
    # Each clip was answered against the history its listener's earlier clips left: per
    # listener, the histories seen were 0, 1, 2, 3, 4 clips long.
    assert sorted(voice.histories) == sorted(list(range(5)) * len(listeners))
    assert voice.most_at_once >= 2, "clips were not read side by side"
    # Each track comes with a URL that plays it without the store's credentials, signed here
    # (no request to the store) and good for audio_url_ttl_s.
    settings = test_app.moodstream.settings
    entries = [entry for answer in answers for entry in answer["playlist"]]
    assert entries
    for entry in entries:
        assert entry["audio_url"].startswith(
            f"http://{settings.s3_endpoint}/{settings.bucket_audio}/{entry['object_key']}?"
        )
        assert "X-Amz-Signature=" in entry["audio_url"]
        ttl_ms = entry["audio_url_expires_at"] - time.time() * 1000
        assert 0.9 * settings.audio_url_ttl_s * 1000 < ttl_ms <= settings.audio_url_ttl_s * 1000


@pytest.mark.asyncio
async def test_a_listener_s_burst_is_refused_undecoded_and_the_others_are_answered(
    test_app, voice, answers, letters
) -> None:
    limit = test_app.moodstream.models.settings.listener_clip_limit
    start = time.time()
    async with test_app.moodstream.agents["recommend"].test_context() as agent:
        for i in range(limit + 5):  # all within one second: a burst
            event = clip_event("mallory", audio=_wav())
            await agent.put(CLIP.encode(event), key=b"mallory", timestamp=start + i * 0.01)
        calm = clip_event("ann", audio=_wav())
        await agent.put(CLIP.encode(calm), key=b"ann", timestamp=start + 0.5)
        # Later, past the window: mallory is admitted again.
        later = clip_event("mallory", audio=_wav())
        window = test_app.moodstream.models.settings.listener_clip_window_s
        await agent.put(CLIP.encode(later), key=b"mallory", timestamp=start + window + 1)
        await until(lambda: len(answers) >= limit + 2 and len(letters) >= 5)
    assert [d["error_kind"] for d in letters] == ["ListenerBusyError"] * 5
    assert f"more than {limit} clips within" in letters[0]["message"]
    assert all(d["payload"] for d in letters)  # the clip is kept: it can be sent again
    answered = [a["request_id"] for a in answers]
    assert calm["request_id"] in answered and later["request_id"] in answered
    assert sum(a["user_id"] == "mallory" for a in answers) == limit + 1


@pytest.mark.asyncio
async def test_a_corrupt_clip_in_a_batch_is_dead_lettered_and_its_batch_answered(
    test_app, voice, answers, letters
) -> None:
    good = [clip_event(u, audio=_wav()) for u in ("ann", "bob")]
    bad = clip_event("cy", audio=b"RIFF" + b"\0" * 300)
    async with test_app.moodstream.agents["recommend"].test_context() as agent:
        await agent.put(CLIP.encode(good[0]), key=b"ann")
        await agent.put(CLIP.encode(bad), key=b"cy")
        await agent.put(CLIP.encode(good[1]), key=b"bob")
        await until(lambda: len(answers) >= 2 and letters)
    # Two listeners: answered each once, in whichever order their reads finished.
    assert sorted(a["request_id"] for a in answers) == sorted(e["request_id"] for e in good)
    (letter,) = letters
    assert letter["error_kind"] == "AudioDecodeError" and letter["service"] == "recommend"


class _SlowOnLongClips(_SadVoice):
    """Reads take 20 ms per second of audio: a 29 s clip 0.58 s, a 1 s clip 20 ms."""

    def read(self, y: np.ndarray, *, sr: int) -> ClipReading:
        time.sleep(0.02 * y.size / sr)
        return super().read(y, sr=sr)


@pytest.mark.asyncio
async def test_a_short_clip_is_not_held_back_behind_another_listener_s_long_clip(
    test_app, answers, letters
) -> None:
    test_app.moodstream.models.voice = _SlowOnLongClips()
    long = clip_event("mallory", audio=_wav(seconds=29.0))
    after_long = clip_event("mallory", audio=_wav())
    short = clip_event("ann", audio=_wav())
    async with test_app.moodstream.agents["recommend"].test_context() as agent:
        for event in (long, after_long, short):  # one batch
            await agent.put(CLIP.encode(event), key=event["user_id"].encode())
        await until(lambda: len(answers) >= 3)
    assert letters == []
    # ann's clip is answered first although it came last; mallory's two keep their order.
    assert [a["request_id"] for a in answers] == [
        short["request_id"], long["request_id"], after_long["request_id"]
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_a_burst_of_long_clips_is_bounded_by_its_audio_seconds(
    test_app, voice, answers, letters
) -> None:
    settings = test_app.moodstream.models.settings
    per_clip = 29.0
    admitted = int(settings.listener_audio_limit_s // per_clip)
    assert admitted < settings.listener_clip_limit  # the count alone would admit them all
    start = time.time()
    async with test_app.moodstream.agents["recommend"].test_context() as agent:
        for i in range(admitted + 3):
            event = clip_event("mallory", audio=_wav(seconds=per_clip))
            await agent.put(CLIP.encode(event), key=b"mallory", timestamp=start + i * 0.01)
        await until(lambda: len(answers) + len(letters) >= admitted + 3)
    assert len(answers) == admitted
    assert [d["error_kind"] for d in letters] == ["ListenerBusyError"] * 3
    assert "s of audio within" in letters[0]["message"]


@pytest.mark.asyncio
async def test_a_card_whose_audio_cannot_be_played_is_left_out_of_the_playlist(
    test_app, voice, answers, letters
) -> None:
    """Issue 27: a forged card (object key ``../models/music/PROMOTED``) made every playlist
    that drew it fail; now the playlist goes without it."""
    forged = {
        **test_app.moodstream.tables.cards.data["t-0"],
        "object_key": "../models/music/PROMOTED",
    }
    test_app.moodstream.tables.cards.data["t-0"] = forged
    async with test_app.moodstream.agents["recommend"].test_context() as agent:
        for i in range(6):  # six first occurrences: one of them draws the forged card
            user = f"forged-{i}"
            await agent.put(CLIP.encode(clip_event(user, audio=_wav())), key=user.encode())
        await until(lambda: len(answers) >= 6)
    assert letters == []
    entries = [entry for answer in answers for entry in answer["playlist"]]
    assert entries and all(entry["audio_url"] for entry in entries)
    assert "t-0" not in {entry["track_id"] for entry in entries}
