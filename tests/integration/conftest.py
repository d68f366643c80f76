"""Fixtures of the integration tier shared by several modules."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner

from models.storage import minio_client
from streams.cli import cli
from streams.topics import ensure_topics

#: How the session's models are trained: once, through the CLI, pushed and promoted. Music and
#: voice are the defaults of ``train``, the champion candidates (musicnn embedding + statistics
#: + LR; listener-normalised functionals with voice quality + averaged small networks), so every
#: worker of the integration tier serves them. The music model is cross-validated on 2 folds
#: before training, not the default 5 (the tests check that it is run and stored); the voice
#: model not at all: the champion's 5 folds alone cost minutes (78 network ensembles), and
#: tests/models/test_voice_training.py checks the voice CLI's cross-validation.
CV_FOLDS = 2
TRAINING_ARGS = {
    "music": ["--cv-folds", str(CV_FOLDS)],
    "themes": [],
    "voice": ["--group-col", "speaker", "--cv-folds", "0"],
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


@pytest.fixture(scope="session")
def network_music_settings(pipeline_settings, synthetic_music_dir):
    """``pipeline_settings`` with a models bucket of its own whose promoted music model is the
    paper's network (segment matrices only), beside the session's themes and voice models.

    For tests that send ``tracks.features`` events straight to Kafka with made-up segment
    matrices: the champion candidate would read each track's audio, which such events lack.
    The network is trained for 2 epochs: these tests need its labels, not their accuracy.
    """
    from minio.commonconfig import CopySource

    from models.registry import ModelRegistry

    settings = pipeline_settings.replace(bucket_models=f"{pipeline_settings.bucket_models}-net")
    client = minio_client(settings.object_store)
    client.make_bucket(settings.bucket_models)
    source = ModelRegistry(settings.object_store, pipeline_settings.bucket_models)
    for kind in ("themes", "voice"):
        version = source.promoted_version(kind)
        for prefix in (f"{kind}/{version}/", f"{kind}/PROMOTED"):
            for obj in client.list_objects(source.bucket, prefix=prefix, recursive=True):
                client.copy_object(
                    settings.bucket_models, obj.object_name,
                    CopySource(source.bucket, obj.object_name),
                )  # fmt: skip
    args = ["train", "music", "--data", str(synthetic_music_dir), "--model", "method",
            "--max-epochs", "2", "--promote"]  # fmt: skip
    result = CliRunner().invoke(cli, args, env=settings.to_env(), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    yield settings
    for obj in client.list_objects(settings.bucket_models, recursive=True):
        client.remove_object(settings.bucket_models, obj.object_name)
    client.remove_bucket(settings.bucket_models)
