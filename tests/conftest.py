"""Session-wide fixtures: the real local stack (Kafka + MinIO), started once for the whole run."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

from streams.settings import Settings

if "PYTEST_XDIST_WORKER" in os.environ:
    # Each worker (and its children) compiles librosa's numba functions into a cache of its own:
    # two processes writing one cache at once can leave a file the other then crashes on.
    os.environ.setdefault(
        "NUMBA_CACHE_DIR",
        str(Path(tempfile.gettempdir()) / f"moodstream-numba-{os.environ['PYTEST_XDIST_WORKER']}"),
    )


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


#: Test modules on the shared local stack. Under pytest-xdist (``make test`` runs two workers)
#: they all run on one worker, in file order, and the other worker takes the rest.
STACK_MODULES = (
    "tests/integration/",
    "tests/deploy/test_stack.py",
    "tests/crawler/test_crawl_integration.py",
    "tests/benchmarks/test_crawl_bench.py",
)
STACK_GROUP = "stack"


def _on_stack(nodeid: str) -> bool:
    return nodeid.split("::")[0].startswith(STACK_MODULES)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """The stack's tests as one unit of work, every other module as one (``make test``), so a
    module-scoped fixture is made once.

    One worker then holds the stack's session fixtures (the models trained once per run, and
    the teardown that deletes the run's topics, which would pull them from under a second
    process still using them). xdist's own ``--dist loadgroup`` would do this with markers, but
    it renames node ids in a way pytest 9 no longer reads.
    """
    from xdist.scheduler import LoadScopeScheduling

    class StackGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return STACK_GROUP if _on_stack(nodeid) else super()._split_scope(nodeid)

    return StackGroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a test on the stack outside :data:`STACK_MODULES`: it would run beside the stack's
    worker and start a second copy of its session fixtures."""
    for item in items:
        uses_stack = "local_stack" in getattr(item, "fixturenames", ())
        if (uses_stack or item.get_closest_marker("integration")) and not _on_stack(item.nodeid):
            raise pytest.UsageError(
                f"{item.nodeid} uses the local stack: add its module to STACK_MODULES in "
                "tests/conftest.py"
            )
