"""Session-wide fixtures: the real local stack (Kafka + MinIO), started once for the whole run."""

from __future__ import annotations

import os
import uuid

import pytest

from streams.settings import Settings


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    """Settings of the local stack the integration tests talk to (from the environment)."""
    return Settings.from_env()


#: Topic prefixes of the tests' own settings (topics, changelogs and Faust's internal topics).
TEST_TOPIC_PREFIXES = ("test-", "e2e-", "hostile-", "catalog-", "own-")


def _test_topics(settings: Settings) -> set[str]:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        return {name for name in admin.list_topics() if name.startswith(TEST_TOPIC_PREFIXES)}
    finally:
        admin.close()


def _delete_topics(settings: Settings, names: set[str]) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        ordered = sorted(names)
        for start in range(0, len(ordered), 100):
            admin.delete_topics(ordered[start : start + 100], timeout_ms=30_000)
    finally:
        admin.close()


@pytest.fixture(scope="session")
def local_stack(stack_settings: Settings):
    """Start Kafka and MinIO once (idempotent: reuses a running stack) and leave them running.

    The topics this run's tests created are deleted at the end (the buckets are removed by the
    fixtures that make them): a developer's broker otherwise gathers thousands of partitions
    over many runs, and its start-up outgrows the stack's health timeout.
    ``MOODSTREAM_TEST_NO_STACK=1`` skips the integration tier with a visible reason instead.
    """
    if os.environ.get("MOODSTREAM_TEST_NO_STACK") == "1":
        pytest.skip("MOODSTREAM_TEST_NO_STACK=1: integration tests against Kafka/MinIO are off")
    from deploy.local.stack import stack_up

    rows = stack_up(stack_settings.stack)
    assert all(row.healthy for row in rows), rows
    before = _test_topics(stack_settings)
    yield stack_settings
    _delete_topics(stack_settings, _test_topics(stack_settings) - before)


@pytest.fixture()
def isolated(local_stack: Settings, tmp_path) -> Settings:
    """Settings with a topic prefix, app id and state folder of the test's own."""
    tag = uuid.uuid4().hex[:10]
    return local_stack.replace(
        topic_prefix=f"test-{tag}",
        app_id=f"test-{tag}",
        home=tmp_path / "home",
    )


@pytest.fixture(scope="session")
def synthetic_music_dir(tmp_path_factory):
    """A small labelled synthetic music set (4 emotions x 3 sub-styles x 4 tracks of 12 s)."""
    from models.datasets.synthetic_music import write_synthetic_music

    folder = tmp_path_factory.mktemp("synthetic-music")
    write_synthetic_music(folder, tracks_per_substyle=4, seconds=12.0, seed=1)
    return folder


@pytest.fixture(scope="session")
def held_out_music_dir(tmp_path_factory):
    """Synthetic tracks of other seeds than :func:`synthetic_music_dir` (never trained on)."""
    from models.datasets.synthetic_music import write_synthetic_music

    folder = tmp_path_factory.mktemp("held-out-music")
    write_synthetic_music(folder, tracks_per_substyle=2, seconds=12.0, seed=777)
    return folder


@pytest.fixture(scope="session")
def theme_music(tmp_path_factory):
    """Longer synthetic tracks for the theme model: a base set and new arrivals (other seeds).

    Returns ``(base clips, base matrices, new clips, new matrices)``.
    """
    from models.datasets.labelled import read_labelled_folder
    from models.datasets.synthetic_music import write_synthetic_music
    from models.feature_cache import MusicFeatureCache

    root = tmp_path_factory.mktemp("theme-music")
    write_synthetic_music(root / "base", tracks_per_substyle=8, seconds=24.0, seed=3)
    write_synthetic_music(root / "new", tracks_per_substyle=3, seconds=24.0, seed=4)
    cache = MusicFeatureCache(root / "cache")
    base, new = read_labelled_folder(root / "base"), read_labelled_folder(root / "new")
    base_m, _ = cache.features([c.path for c in base])
    new_m, _ = cache.features([c.path for c in new])
    return base, base_m, new, new_m


@pytest.fixture(scope="session")
def synthetic_speech_dir(tmp_path_factory):
    """espeak-ng emotional speech: 4 emotions x 6 voices x 4 clips, ``speaker`` is the group."""
    from models.datasets.synthetic_speech import write_synthetic_speech

    folder = tmp_path_factory.mktemp("synthetic-speech")
    write_synthetic_speech(folder, clips_per_voice=4, seed=5)
    return folder


#: The xdist group of every test on the shared local stack (``make test`` runs two workers).
STACK_GROUP = "stack"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``), every test that talks
    to the shared local stack runs on one worker, in file order, and the other worker takes the
    rest. The stack's session fixture then lives in one process: its teardown deletes the topics
    its run created, which would pull them from under a second process still using them."""
    for item in items:
        on_stack = "local_stack" in getattr(item, "fixturenames", ())
        if on_stack or item.get_closest_marker("integration") is not None:
            item.add_marker(pytest.mark.xdist_group(STACK_GROUP))
