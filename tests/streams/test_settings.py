"""Settings come from the environment once, round-trip through it, and reject bad numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.settings import Settings


def test_defaults_are_the_local_stack() -> None:
    settings = Settings.from_env({})
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.s3_endpoint == "127.0.0.1:9000"
    assert settings.topic("voice.clips") == "moodstream.voice.clips"
    assert settings.api_token is None


def test_environment_overrides_and_round_trip() -> None:
    env = {
        "MOODSTREAM_KAFKA_BOOTSTRAP": "10.0.0.5:19092",
        "MOODSTREAM_TOPIC_PREFIX": "prod",
        "MOODSTREAM_PARTITIONS": "12",
        "MOODSTREAM_API_TOKEN": "s3cret",
        "MOODSTREAM_HOME": "/var/lib/moodstream",
        "MOODSTREAM_MIN_VOICE_CONFIDENCE": "0.6",
        "MOODSTREAM_CLIP_BATCH_SIZE": "32",
        "MOODSTREAM_LISTENER_CLIP_LIMIT": "4",
        "MOODSTREAM_LISTENER_AUDIO_LIMIT_S": "45",
        "MOODSTREAM_TRACK_BATCH_SIZE": "2",
    }
    settings = Settings.from_env(env)
    assert (settings.clip_batch_size, settings.listener_clip_limit) == (32, 4)
    assert (settings.listener_audio_limit_s, settings.track_batch_size) == (45.0, 2)
    assert (settings.stack.kafka_host, settings.stack.kafka_port) == ("10.0.0.5", 19092)
    assert settings.partitions == 12 and settings.home == Path("/var/lib/moodstream")
    assert settings.min_voice_confidence == 0.6
    assert Settings.from_env(settings.to_env()) == settings


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings.from_env(
        {"MOODSTREAM_API_TOKEN": "tok-123", "MOODSTREAM_S3_SECRET_KEY": "sk-9"}
    )
    assert "tok-123" not in repr(settings) and "sk-9" not in repr(settings)


def test_bad_number_names_the_variable() -> None:
    with pytest.raises(ValueError, match="MOODSTREAM_WEB_PORT='eighty'"):
        Settings.from_env({"MOODSTREAM_WEB_PORT": "eighty"})


def test_a_confidence_threshold_outside_0_to_1_is_refused() -> None:
    from streams.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="MOODSTREAM_MIN_VOICE_CONFIDENCE=50.0 is not"):
        Settings.from_env({"MOODSTREAM_MIN_VOICE_CONFIDENCE": "50"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MOODSTREAM_CLIP_BATCH_SIZE", "0"),
        ("MOODSTREAM_CLIP_BATCH_WAIT_MS", "0"),
        ("MOODSTREAM_LISTENER_CLIP_LIMIT", "-1"),
        ("MOODSTREAM_LISTENER_CLIP_WINDOW_S", "0"),
        ("MOODSTREAM_LISTENER_AUDIO_LIMIT_S", "0"),
        ("MOODSTREAM_TRACK_BATCH_SIZE", "0"),
    ],
)
def test_batch_and_listener_bounds_that_cannot_work_are_refused(name: str, value: str) -> None:
    from streams.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match=f"{name}="):
        Settings.from_env({name: value})


def test_the_small_configs_of_the_lower_layers_carry_the_settings_values() -> None:
    settings = Settings.from_env(
        {
            "MOODSTREAM_S3_ENDPOINT": "s3.internal:9443",
            "MOODSTREAM_S3_SECURE": "1",
            "MOODSTREAM_S3_SECRET_KEY": "hunter2",
            "MOODSTREAM_TOPIC_PREFIX": "prod",
            "MOODSTREAM_APP_ID": "ms-eu",
            "MOODSTREAM_BUCKET_AUDIO": "tracks",
        }
    )
    store = settings.object_store
    assert (store.endpoint, store.secure, store.secret_key) == ("s3.internal:9443", True, "hunter2")
    assert "hunter2" not in repr(store) and "hunter2" not in repr(settings.stack)
    target = settings.crawl_target
    assert (target.topic, target.bucket, target.store) == (
        "prod.tracks.discovered",
        "tracks",
        store,
    )
    assert target.transactional_id_prefix == "ms-eu"
    stack = settings.stack
    assert (stack.s3_host, stack.s3_port) == ("s3.internal", 9443)
    assert stack.versioned_buckets == ("tracks",) and "tracks" in stack.buckets
