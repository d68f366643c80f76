"""Themes as stream state that scales out (issue 18): one owner per emotion, checkpointed.

Three workers label 200 tracks; one is killed with SIGKILL mid-stream and restarted. The
catalog must then hold every track exactly once, with the theme that one uninterrupted owner
per emotion (:func:`streams.theme_owner.replay`) gives the same ``tracks.classified`` sequence;
each emotion's derived version must count each of its tracks once; no theme id may come back
once retired; and the listener flow must work across the workers.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections import Counter, defaultdict

import numpy as np
import pytest

from models.datasets.labelled import read_labelled_folder
from models.feature_cache import MusicFeatureCache
from models.registry import ModelRegistry
from models.storage import minio_client
from models.themes import ThemeModel
from schemas.codec import codec_for
from schemas.emotions import EMOTIONS
from streams.client import MoodstreamClient
from streams.theme_owner import replay
from streams.topics import ensure_topics
from streams.worker_process import WorkerProcess
from tests.integration.kafka_helpers import consume, producer, wait_for
from tests.schemas.samples import SAMPLE_EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRACKS = 200
FEATURES_READY = codec_for("TrackFeaturesReady")
CLASSIFIED = codec_for("TrackClassified")
LABELLED = codec_for("TrackLabelled")


def _send_tracks(settings, matrices: list[np.ndarray], seed: int) -> list[str]:
    """200 tracks made of the synthetic set's segment matrices (each with noise of its own),
    stored in the features bucket and announced on tracks.features."""
    client = minio_client(settings.object_store)
    rng = np.random.default_rng(seed)
    prod = producer(settings)
    ids = []
    for i in range(TRACKS):
        track_id = f"own-{i:03d}"
        base = matrices[i % len(matrices)]
        matrix = (base + rng.normal(scale=0.05, size=base.shape)).astype(np.float32)
        buf = io.BytesIO()
        np.save(buf, matrix)
        key = f"{SAMPLE_EVENTS['TrackFeaturesReady']['feature_spec']}/{track_id}.npy"
        client.put_object(settings.bucket_features, key, io.BytesIO(buf.getvalue()), buf.tell())
        event = {
            **SAMPLE_EVENTS["TrackFeaturesReady"],
            "track_id": track_id,
            "features_key": key,
            "n_segments": int(matrix.shape[0]),
        }
        prod.send(
            settings.topic("tracks.features"),
            key=track_id.encode(),
            value=FEATURES_READY.encode(event),
        )
        ids.append(track_id)
    prod.flush()
    prod.close()
    return ids


def _served(worker) -> dict[str, tuple[str, int]]:
    """The catalog a worker serves: track id -> (emotion, theme id); a track twice fails."""
    out: dict[str, tuple[str, int]] = {}
    for emotion in EMOTIONS:
        for theme, cards in worker.get(f"/api/catalog/{emotion}")["themes"].items():
            for card in cards:
                assert card["track_id"] not in out, f"{card['track_id']} is in the catalog twice"
                out[card["track_id"]] = (emotion, int(theme))
    return out


def _dead_letters(settings) -> list[dict]:
    raw = consume(settings, settings.topic("deadletters"), until=lambda m: False, timeout_s=3)
    return [codec_for("DeadLetter").decode(m.value) for m in raw]


def _read_matrix(settings):
    store = minio_client(settings.object_store)

    def load(key: str) -> np.ndarray:
        response = store.get_object(settings.bucket_features, key)
        try:
            return np.load(io.BytesIO(response.read()))
        finally:
            response.close()
            response.release_conn()

    return load


def _uninterrupted(settings, tmp_path) -> tuple[dict[str, tuple[str, int]], str]:
    """What one uninterrupted owner per emotion assigns to tracks.classified, in offset order."""
    classified = consume(
        settings, settings.topic("tracks.classified"), until=lambda m: False, timeout_s=4
    )
    registry = ModelRegistry(settings.object_store, settings.bucket_models)
    model, record = ThemeModel.from_registry(registry, tmp_path / "themes")
    events = []
    for message in sorted(classified, key=lambda m: (m.partition, m.offset)):
        event = CLASSIFIED.decode(message.value)
        events.append((message.offset, event["emotion"], event["track_id"], event["features_key"]))
    assert len({e for _, e, _, _ in events}) >= 2, "the test needs more than one owner"
    return replay(events, model, record.version, _read_matrix(settings)), record.version


def _last_versions(settings) -> dict[str, int]:
    """Per emotion, the highest n of the ``<base>+<n>`` versions its labels carry."""
    labelled = consume(
        settings, settings.topic("tracks.labelled"), until=lambda m: False, timeout_s=4
    )
    last: dict[str, int] = defaultdict(int)
    for message in labelled:
        event = LABELLED.decode(message.value)
        n = int(event["theme_model_version"].rsplit("+", 1)[1])
        last[event["emotion"]] = max(last[event["emotion"]], n)
    return last


def _live_theme_ids(settings) -> dict[str, list[list[int]]]:
    """Per emotion, the live theme ids after each checkpoint (the themes changelog in order)."""
    history = consume(
        settings, f"{settings.app_id}-themes-changelog", until=lambda m: False, timeout_s=4
    )
    live: dict[str, list[list[int]]] = defaultdict(list)
    for message in sorted(history, key=lambda m: (m.partition, m.offset)):
        live[json.loads(message.key)].append(json.loads(message.value)["theme_ids"])
    return live


@pytest.mark.asyncio
async def test_three_workers_one_killed_label_every_track_once_as_one_uninterrupted_owner(
    network_music_settings, synthetic_music_dir, synthetic_speech_dir, tmp_path
) -> None:
    tag = uuid.uuid4().hex[:8]
    settings = network_music_settings.replace(topic_prefix=f"own-{tag}", app_id=f"own-{tag}")
    ensure_topics(settings)
    clips = read_labelled_folder(synthetic_music_dir)
    matrices, _ = MusicFeatureCache(tmp_path / "cache").features([c.path for c in clips])
    workers = [WorkerProcess(settings, tmp_path / f"w{i}").spawn() for i in range(3)]
    try:
        for worker in workers:
            worker.wait_ready(180)
        ids = _send_tracks(settings, matrices, seed=11)
        wait_for(lambda: len(_served(workers[0])) >= 60, 240, "60 tracks labelled")
        workers[1].kill()  # SIGKILL mid-stream; its local store stays
        workers[1].spawn()  # and back, while the others go on
        deadline = time.monotonic() + 300
        while len(_served(workers[0])) + len(_dead_letters(settings)) < TRACKS:
            assert time.monotonic() < deadline, "not every track was labelled or refused"
            time.sleep(1.0)
        letters = _dead_letters(settings)
        assert letters == [], f"refused tracks: {[d['message'] for d in letters][:3]}"
        workers[1].wait_ready(180)
        # Every worker serves the same catalog (each reads the cards' changelog at its own pace).
        wait_for(
            lambda: _served(workers[0]) == _served(workers[1]) == _served(workers[2]),
            60,
            "the same catalog on the three workers",
        )
        catalog = _served(workers[0])
        assert sorted(catalog) == ids  # every track, once

        expected, _ = _uninterrupted(settings, tmp_path)
        assert catalog == expected
        # The killed worker owned an emotion (4 partitions over 3 workers): its successor went
        # on from that emotion's checkpoint, not from the promoted model.
        logs = "".join(w.log_path.read_text(errors="replace") for w in workers)
        assert "themes: resumed from" in logs

        # Each emotion's derived version counts its tracks once: <base>+<tracks of the emotion>.
        per_emotion = Counter(emotion for emotion, _ in catalog.values())
        assert _last_versions(settings) == dict(per_emotion)

        # No theme id comes back once retired; the listener sees at most 5 themes per emotion.
        for emotion, sequence in _live_theme_ids(settings).items():
            retired: set[int] = set()
            for before, after in zip(sequence, sequence[1:], strict=False):
                assert not retired & set(after), f"{emotion}: a retired theme id came back"
                retired |= set(before) - set(after)
            themes = {theme for e, theme in catalog.values() if e == emotion}
            assert len(themes) <= 5 and themes <= set(sequence[-1])

        # The listener flow across workers: a clip, a pick, then the preferred theme.
        with MoodstreamClient(settings) as client:
            for clip in sorted(synthetic_speech_dir.glob("*.wav")):
                audio = clip.read_bytes()  # the first clip heard as a mood the catalog holds
                first = client.wait_for_recommendation(client.submit_clip("ann", audio), 60)
                if first["emotion"] in per_emotion:
                    break
            assert first["step"] == "FIRST_OCCURRENCE" and first["playlist"], first
            pick = first["playlist"][0]
            client.send_feedback("ann", "PICK", [pick["track_id"]])
            time.sleep(2.0)
            # The voice model reads each clip against the listener's earlier ones, so the same
            # clip can be heard differently: send clips until the picked mood comes back.
            for clip in sorted(synthetic_speech_dir.glob("*.wav")):
                request = client.submit_clip("ann", clip.read_bytes())
                second = client.wait_for_recommendation(request, 60)
                if second["emotion"] == first["emotion"]:
                    break
        assert second["step"] == "PREFERRED_THEME", second
        assert {p["theme_id"] for p in second["playlist"]} == {pick["theme_id"]}
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.stop()
