"""Fixtures of the integration tier shared by several modules."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner

from models.storage import minio_client
from streams.cli import cli
from streams.topics import ensure_topics

#: How the session's models are trained: once, through the CLI, pushed and promoted. Music is
#: ``train music``'s default, the champion candidate (musicnn embedding + statistics + LR), so
#: every worker of the integration tier serves it.
TRAINING_ARGS = {
    "music": [],
    "themes": [],
    "voice": ["--group-col", "speaker", "--max-epochs", "10"],
}


@pytest.fixture(scope="session")
def pipeline_settings(local_stack, synthetic_music_dir, synthetic_speech_dir, tmp_path_factory):
    """Buckets, topics and promoted models of the end-to-end and registry tests.

    The three models are trained once per run with ``moodstream train KIND ... --promote`` (music
    and themes on the synthetic music, voice on the synthetic speech); each CLI run's output is
    in ``settings.home / "trained" / KIND.txt`` and its local copy in ``.../KIND/``.
    """
    tag = uuid.uuid4().hex[:8]
    settings = local_stack.replace(
        topic_prefix=f"e2e-{tag}", app_id=f"e2e-{tag}", home=tmp_path_factory.mktemp("e2e-home"),
        bucket_audio=f"e2e-audio-{tag}", bucket_features=f"e2e-features-{tag}",
        bucket_models=f"e2e-models-{tag}", bucket_clips=f"e2e-clips-{tag}",
    )  # fmt: skip
    client = minio_client(settings.object_store)
    for bucket in settings.buckets:
        client.make_bucket(bucket)
    ensure_topics(settings)
    env = settings.to_env()
    runner = CliRunner()
    data = {
        "music": synthetic_music_dir,
        "themes": synthetic_music_dir,
        "voice": synthetic_speech_dir,
    }
    trained = settings.home / "trained"
    for kind, extra in TRAINING_ARGS.items():
        args = ["train", kind, "--data", str(data[kind]), *extra, "--out", str(trained / kind), "--promote"]  # fmt: skip
        result = runner.invoke(cli, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        (trained / f"{kind}.txt").write_text(result.output)
    yield settings
    for bucket in settings.buckets:
        for obj in client.list_objects(bucket, recursive=True):
            client.remove_object(bucket, obj.object_name)
        client.remove_bucket(bucket)
