"""One valid sample of every event, used by schema and stream tests."""

from __future__ import annotations

_META = {
    "title": "Nocturne",
    "singer": "A. Pianist",
    "author": "F. Chopin",
    "duration_s": 241.5,
    "album": "Nights",
}
_PROBS = {"sad": 0.7, "happy": 0.1, "angry": 0.05, "calm": 0.15}

SAMPLE_EVENTS: dict[str, dict] = {
    "TrackDiscovered": {
        "track_id": "t-0001",
        "source_site": "local-a",
        "source_url": "http://127.0.0.1:8800/track/1",
        "metadata": _META,
        "object_key": "tracks/ab/abcdef.ogg",
        "content_sha256": "ab" * 32,
        "playlist_emotion": "sad",
        "discovered_at": 1_764_000_000_000,
    },
    "TrackFeaturesReady": {
        "track_id": "t-0001",
        "feature_spec": "music62/1",
        "features_key": "music62-1/t-0001.npy",
        "n_segments": 80,
        "metadata": _META,
        "object_key": "tracks/ab/abcdef.ogg",
        "playlist_emotion": None,
        "extracted_at": 1_764_000_000_500,
    },
    "TrackLabelled": {
        "track_id": "t-0001",
        "metadata": _META,
        "object_key": "tracks/ab/abcdef.ogg",
        "emotion": "sad",
        "emotion_probabilities": _PROBS,
        "theme_id": 3,
        "theme_distribution": [{"theme_id": 3, "weight": 0.8}, {"theme_id": 1, "weight": 0.2}],
        "music_model_version": "music-20261125-1",
        "theme_model_version": "themes-20261125-1",
        "feature_spec": "music62/1",
        "labelled_at": 1_764_000_001_000,
    },
    "VoiceClipSubmitted": {
        "request_id": "r-1",
        "user_id": "u-1",
        "session_id": "s-1",
        "audio": b"RIFF....WAVE",
        "audio_key": None,
        "codec": "wav",
        "sample_rate": 16000,
        "submitted_at": 1_764_000_002_000,
    },
    "Recommendation": {
        "request_id": "r-1",
        "user_id": "u-1",
        "session_id": "s-1",
        "speech_detected": True,
        "emotion": "sad",
        "emotion_probabilities": _PROBS,
        "theme_id": None,
        "step": "FIRST_OCCURRENCE",
        "reason": "first sad clip: one track from each sad theme",
        "playlist": [
            {
                "track_id": "t-0001",
                "theme_id": 3,
                "metadata": _META,
                "object_key": "tracks/ab/abcdef.ogg",
            }
        ],
        "voice_model_version": "voice-20261125-1",
        "created_at": 1_764_000_002_100,
    },
    "UserFeedback": {
        "feedback_id": "f-1",
        "user_id": "u-1",
        "session_id": "s-1",
        "request_id": "r-1",
        "action": "PICK",
        "track_ids": ["t-0001"],
        "created_at": 1_764_000_003_000,
    },
    "DeadLetter": {
        "source_topic": "moodstream.voice.clips",
        "source_partition": 2,
        "source_offset": 1234,
        "error_kind": "SerializationError",
        "message": "expected a VoiceClipSubmitted event",
        "service": "recommend",
        "key": b"u-1",
        "payload": b"garbage",
        "payload_key": None,
        "failed_at": 1_764_000_004_000,
    },
}
