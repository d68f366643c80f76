"""moodstream's one settings object.

Every process (worker, crawler, CLI, tests) builds a :class:`Settings` once, at start-up,
with :meth:`Settings.from_env`, and passes it down. Nothing deeper in the code reads the
environment: that keeps tests free to build settings of their own (quix-streams does the same).
The layers below ``streams`` never see a ``Settings``: it hands them the small configs they take
(:attr:`Settings.object_store`, :attr:`Settings.crawl_target`, :attr:`Settings.stack`).

Environment variables (all optional; the defaults are the local stack of ``deploy/local``):

==============================  =====================================================
``MOODSTREAM_HOME``             state folder (Kafka log dirs, MinIO data, Faust stores)
``MOODSTREAM_CACHE``            build cache (Kafka jars, MinIO binary), shared by clones
``MOODSTREAM_SHARED_DATA``      the real labelled corpora (default ../shared/data beside the checkout)
``MOODSTREAM_KAFKA_BOOTSTRAP``  ``host:port`` of the broker
``MOODSTREAM_KAFKA_CONTROLLER_PORT``  KRaft controller port of the local broker
``MOODSTREAM_S3_ENDPOINT``      ``host:port`` of MinIO (S3 API)
``MOODSTREAM_S3_CONSOLE_PORT``  MinIO console port of the local server
``MOODSTREAM_S3_ACCESS_KEY`` / ``MOODSTREAM_S3_SECRET_KEY``  credentials
``MOODSTREAM_S3_SECURE``        ``1`` to use TLS
``MOODSTREAM_S3_REGION``        the store's region (default us-east-1, MinIO's)
``MOODSTREAM_TOPIC_PREFIX``     prefix of every topic name (isolates deployments and tests)
``MOODSTREAM_APP_ID``           Faust application id (consumer group, changelog names)
``MOODSTREAM_BUCKET_AUDIO``     bucket of crawled audio (also ``_FEATURES``, ``_MODELS``, ``_CLIPS``)
``MOODSTREAM_WEB_HOST``         interface the worker's HTTP API binds to (default 127.0.0.1)
``MOODSTREAM_WEB_PORT``         port of the worker's HTTP API
``MOODSTREAM_WEB_BODY_TIMEOUT_S``  seconds a client has to send a request body
``MOODSTREAM_WEB_IDLE_TIMEOUT_S``  seconds a connection may sit without a complete request
``MOODSTREAM_WEB_REPLY_TIMEOUT_S``  seconds ``POST /api/clips`` waits for its recommendation
``MOODSTREAM_MIN_VOICE_CONFIDENCE``  calibrated probability below which a clip's mood is
                                answered as uncertain (default 0.5)
``MOODSTREAM_CLIP_BATCH_SIZE``  most clips the recommend agent reads side by side (default 16)
``MOODSTREAM_CLIP_BATCH_WAIT_MS``  how long it waits for more clips to join a batch (default 5)
``MOODSTREAM_LISTENER_CLIP_LIMIT`` / ``MOODSTREAM_LISTENER_CLIP_WINDOW_S``  clips one
                                listener may have answered per window (default 10 per 10 s)
``MOODSTREAM_LISTENER_AUDIO_LIMIT_S``  seconds of audio one listener may have answered per
                                window (default 60)
``MOODSTREAM_AUDIO_URL_TTL_S``   how long a recommended track's audio URL plays (default 3600)
``MOODSTREAM_CLIP_READ_PROCESSES``  child processes that read clips (default 1; 0: threads)
``MOODSTREAM_CLIP_READ_TIMEOUT_S``  longest a reader may take over one clip before it is killed (default 10)
``MOODSTREAM_TRACK_BATCH_SIZE``  tracks the feature and label agents handle side by side
                                (default 1)
``MOODSTREAM_PARTITIONS``       partitions of the topics the app creates
``MOODSTREAM_STORE``            Faust table store URL (``rocksdb://`` or ``memory://``)
``MOODSTREAM_API_TOKEN``        bearer token required by the HTTP API when set
==============================  =====================================================
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from crawler.target import CrawlTarget
from deploy.local.config import StackConfig
from models.storage import ObjectStore
from schemas.topics import TOPIC_NAMES, topic_name
from streams.exceptions import ConfigurationError

__all__ = ["Settings", "LOCAL_DEV_ACCESS_KEY", "LOCAL_DEV_SECRET_KEY"]

#: Credentials of the local development MinIO only; any other deployment sets its own.
LOCAL_DEV_ACCESS_KEY = "moodstream"
LOCAL_DEV_SECRET_KEY = "moodstream-local-dev"


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None


@dataclass(frozen=True)
class Settings:
    """Configuration of one moodstream process."""

    home: Path = Path(".moodstream")
    """State folder: Kafka log dirs, MinIO data, Faust table stores, logs. Git-ignored."""

    cache: Path = Path.home() / ".cache" / "moodstream"
    """Build cache shared by every clone on the machine: Kafka jars and the MinIO binary."""

    shared_data: Path = Path(__file__).resolve().parents[2] / "shared" / "data"
    """The real, human-labelled development corpora (``../shared/data`` beside the checkout):
    ``train`` and ``evaluate`` use every one present for their task unless told ``--data``."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    """``host:port`` of the Kafka broker (the local stack listens here)."""

    kafka_controller_port: int = 9093
    """KRaft controller port of the local single-node broker."""

    s3_endpoint: str = "127.0.0.1:9000"
    """``host:port`` of the S3 API (MinIO)."""

    s3_console_port: int = 9001
    """Port of the local MinIO web console."""

    s3_access_key: str = LOCAL_DEV_ACCESS_KEY
    s3_secret_key: str = field(default=LOCAL_DEV_SECRET_KEY, repr=False)
    s3_secure: bool = False
    s3_region: str = "us-east-1"

    bucket_audio: str = "audio"
    """Crawled audio, content-addressed, versioned (the paper's backup copy)."""
    bucket_features: str = "features"
    """Segment feature matrices, one object per track and feature-spec version."""
    bucket_models: str = "models"
    """Model registry: weights plus their metadata."""
    bucket_clips: str = "clips"
    """Voice clips submitted by object key rather than inline."""

    topic_prefix: str = "moodstream"
    """Prefix of every topic name; a test run or a second deployment uses its own."""

    app_id: str = "moodstream"
    """Faust application id: consumer group and changelog topic names derive from it."""

    web_host: str = "127.0.0.1"
    """Interface the worker's HTTP API binds to. Anything but a loopback address (``0.0.0.0``
    inside a container) exposes the API, so it needs ``api_token`` (see :meth:`check_exposure`)."""

    web_port: int = 6066
    """Port of the worker's HTTP API."""

    web_body_timeout_s: float = 20.0
    """Seconds a client has to send a whole request body (slower: 408)."""

    min_voice_confidence: float = 0.5
    """Calibrated probability of the likeliest mood below which an answer says the mood is
    uncertain (``emotion_uncertain``): at 0.5 the reading is more likely wrong than right."""

    web_idle_timeout_s: float = 30.0
    """Seconds a connection may stay open without a complete request (headers included)."""

    web_reply_timeout_s: float = 20.0
    """Seconds ``POST /api/clips`` waits for the recommendation before it answers 504."""

    clip_batch_size: int = 16
    """Most voice clips the recommend agent takes at once: they are decoded and read side by
    side on every core, then answered one by one in their order (streams.agents)."""

    clip_batch_wait_ms: float = 5.0
    """How long the recommend agent waits for more clips to join a batch; an idle worker adds
    at most this to a clip's answer."""

    audio_url_ttl_s: float = 3600.0
    """How long the audio URL of a recommended track plays (a presigned GET on the store)."""

    clip_read_processes: int = 1
    """Child processes that read voice clips (decode and features; streams.clip_readers), so
    a worker uses a core beyond its event loop's; 0 reads them in the worker's threads."""

    clip_read_timeout_s: float = 10.0
    """Longest a clip reader may take over one clip (decoding and features; a 30 s clip takes
    well under a second). A reader past it is killed and replaced, and the clip dead-lettered
    (``ClipReadTimeoutError``): a decoder that hangs on a hostile file holds no other answer."""

    track_batch_size: int = 1
    """Most tracks the feature and labelling agents take at once, to analyse side by side, each
    in a thread. One by default: on 2 cores TensorFlow's own threads already keep both busy
    with one track, and 2 or 4 side by side gave no more audio-hours per hour but 0.5 GB more
    memory (docs/throughput.md). More cores may differ; a 20-minute track decodes to ~100 MB."""

    listener_clip_limit: int = 10
    """Clips one listener may have answered within ``listener_clip_window_s`` seconds; more are
    refused undecoded (``ListenerBusyError``, dead-lettered; streams.admission)."""

    listener_clip_window_s: float = 10.0
    """The window of ``listener_clip_limit`` and ``listener_audio_limit_s``, in seconds of the
    clips' own Kafka timestamps."""

    listener_audio_limit_s: float = 60.0
    """Seconds of audio one listener may have answered within ``listener_clip_window_s``: a
    burst of long clips is bounded by what it costs, not only by its count (a listener with
    nothing in the window always has one clip admitted)."""

    partitions: int = 4
    """Partitions of the topics and tables the app creates."""

    store: str = "rocksdb://"
    """Faust table store: ``rocksdb://`` (rocksdict, persistent) or ``memory://`` (tests)."""

    api_token: str | None = field(default=None, repr=False)
    """Bearer token the HTTP API requires when set."""

    @property
    def buckets(self) -> tuple[str, ...]:
        """Every bucket the system uses; the local stack creates them at start."""
        return (self.bucket_audio, self.bucket_features, self.bucket_models, self.bucket_clips)

    @property
    def object_store(self) -> ObjectStore:
        """The S3 endpoint and credentials, as ``models`` and ``crawler`` take them."""
        return ObjectStore(
            endpoint=self.s3_endpoint,
            access_key=self.s3_access_key,
            secret_key=self.s3_secret_key,
            secure=self.s3_secure,
            region=self.s3_region,
        )

    @property
    def crawl_target(self) -> CrawlTarget:
        """Where crawls write: the audio bucket and the track-discovered topic."""
        return CrawlTarget(
            kafka_bootstrap=self.kafka_bootstrap,
            topic=self.topic(TOPIC_NAMES["track_discovered"]),
            store=self.object_store,
            bucket=self.bucket_audio,
            transactional_id_prefix=self.app_id,
        )

    @property
    def stack(self) -> StackConfig:
        """The local stack's configuration (``moodstream stack``)."""
        return StackConfig(
            home=self.home,
            cache=self.cache,
            kafka_bootstrap=self.kafka_bootstrap,
            kafka_controller_port=self.kafka_controller_port,
            s3_endpoint=self.s3_endpoint,
            s3_console_port=self.s3_console_port,
            s3_access_key=self.s3_access_key,
            s3_secret_key=self.s3_secret_key,
            s3_secure=self.s3_secure,
            buckets=self.buckets,
            versioned_buckets=(self.bucket_audio,),
        )

    @property
    def web_is_loopback(self) -> bool:
        """Whether the HTTP API binds to this machine only."""
        if self.web_host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.web_host).is_loopback
        except ValueError:
            return False

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_voice_confidence <= 1.0:
            raise ConfigurationError(
                f"MOODSTREAM_MIN_VOICE_CONFIDENCE={self.min_voice_confidence} is not a "
                "probability: use a value from 0 (never uncertain) to 1"
            )
        for name, value in (
            ("MOODSTREAM_CLIP_BATCH_SIZE", self.clip_batch_size),
            ("MOODSTREAM_TRACK_BATCH_SIZE", self.track_batch_size),
            ("MOODSTREAM_LISTENER_CLIP_LIMIT", self.listener_clip_limit),
            ("MOODSTREAM_LISTENER_CLIP_WINDOW_S", self.listener_clip_window_s),
            ("MOODSTREAM_LISTENER_AUDIO_LIMIT_S", self.listener_audio_limit_s),
            ("MOODSTREAM_AUDIO_URL_TTL_S", self.audio_url_ttl_s),
        ):
            if value <= 0:
                raise ConfigurationError(f"{name}={value}: use a number above 0")
        if self.clip_read_processes < 0:
            raise ConfigurationError(
                f"MOODSTREAM_CLIP_READ_PROCESSES={self.clip_read_processes}: use 0 (threads) "
                "or more"
            )
        if self.clip_read_timeout_s <= 0:
            raise ConfigurationError(
                f"MOODSTREAM_CLIP_READ_TIMEOUT_S={self.clip_read_timeout_s}: use a number above 0"
            )
        if self.clip_batch_wait_ms <= 0:  # 0 would make Faust wait for a full batch
            raise ConfigurationError(
                f"MOODSTREAM_CLIP_BATCH_WAIT_MS={self.clip_batch_wait_ms}: use a number above 0"
            )

    def check_exposure(self) -> None:
        """Refuse an HTTP API reachable from other machines without a token.

        Raises
        ------
        ConfigurationError
            ``web_host`` is not a loopback address and no ``api_token`` is set.
        """
        if not self.web_is_loopback and not self.api_token:
            raise ConfigurationError(
                f"MOODSTREAM_WEB_HOST={self.web_host} exposes the HTTP API beyond this machine: "
                "set MOODSTREAM_API_TOKEN (clients then send 'Authorization: Bearer <token>'), "
                "or bind to 127.0.0.1"
            )

    def topic(self, name: str) -> str:
        """Full name of topic ``name`` under this deployment's prefix."""
        return topic_name(self.topic_prefix, name)

    def replace(self, **changes: object) -> Settings:
        """A copy with ``changes`` applied (settings are immutable)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: ``os.environ``), falling back to the local stack."""
        env = os.environ if env is None else env
        default = cls()
        return cls(
            home=Path(env.get("MOODSTREAM_HOME", str(default.home))),
            cache=Path(env.get("MOODSTREAM_CACHE", str(default.cache))),
            shared_data=Path(env.get("MOODSTREAM_SHARED_DATA", str(default.shared_data))),
            kafka_bootstrap=env.get("MOODSTREAM_KAFKA_BOOTSTRAP", default.kafka_bootstrap),
            kafka_controller_port=_env_int(
                env, "MOODSTREAM_KAFKA_CONTROLLER_PORT", default.kafka_controller_port
            ),
            s3_endpoint=env.get("MOODSTREAM_S3_ENDPOINT", default.s3_endpoint),
            s3_console_port=_env_int(env, "MOODSTREAM_S3_CONSOLE_PORT", default.s3_console_port),
            s3_access_key=env.get("MOODSTREAM_S3_ACCESS_KEY", default.s3_access_key),
            s3_secret_key=env.get("MOODSTREAM_S3_SECRET_KEY", default.s3_secret_key),
            s3_secure=env.get("MOODSTREAM_S3_SECURE", "0") in ("1", "true", "yes"),
            s3_region=env.get("MOODSTREAM_S3_REGION", default.s3_region),
            bucket_audio=env.get("MOODSTREAM_BUCKET_AUDIO", default.bucket_audio),
            bucket_features=env.get("MOODSTREAM_BUCKET_FEATURES", default.bucket_features),
            bucket_models=env.get("MOODSTREAM_BUCKET_MODELS", default.bucket_models),
            bucket_clips=env.get("MOODSTREAM_BUCKET_CLIPS", default.bucket_clips),
            topic_prefix=env.get("MOODSTREAM_TOPIC_PREFIX", default.topic_prefix),
            app_id=env.get("MOODSTREAM_APP_ID", default.app_id),
            web_host=env.get("MOODSTREAM_WEB_HOST", default.web_host),
            web_port=_env_int(env, "MOODSTREAM_WEB_PORT", default.web_port),
            web_body_timeout_s=_env_float(
                env, "MOODSTREAM_WEB_BODY_TIMEOUT_S", default.web_body_timeout_s
            ),
            web_idle_timeout_s=_env_float(
                env, "MOODSTREAM_WEB_IDLE_TIMEOUT_S", default.web_idle_timeout_s
            ),
            min_voice_confidence=_env_float(
                env, "MOODSTREAM_MIN_VOICE_CONFIDENCE", default.min_voice_confidence
            ),
            web_reply_timeout_s=_env_float(
                env, "MOODSTREAM_WEB_REPLY_TIMEOUT_S", default.web_reply_timeout_s
            ),
            clip_batch_size=_env_int(env, "MOODSTREAM_CLIP_BATCH_SIZE", default.clip_batch_size),
            clip_batch_wait_ms=_env_float(
                env, "MOODSTREAM_CLIP_BATCH_WAIT_MS", default.clip_batch_wait_ms
            ),
            audio_url_ttl_s=_env_float(env, "MOODSTREAM_AUDIO_URL_TTL_S", default.audio_url_ttl_s),
            clip_read_processes=_env_int(
                env, "MOODSTREAM_CLIP_READ_PROCESSES", default.clip_read_processes
            ),
            clip_read_timeout_s=_env_float(
                env, "MOODSTREAM_CLIP_READ_TIMEOUT_S", default.clip_read_timeout_s
            ),
            track_batch_size=_env_int(env, "MOODSTREAM_TRACK_BATCH_SIZE", default.track_batch_size),
            listener_clip_limit=_env_int(
                env, "MOODSTREAM_LISTENER_CLIP_LIMIT", default.listener_clip_limit
            ),
            listener_clip_window_s=_env_float(
                env, "MOODSTREAM_LISTENER_CLIP_WINDOW_S", default.listener_clip_window_s
            ),
            listener_audio_limit_s=_env_float(
                env, "MOODSTREAM_LISTENER_AUDIO_LIMIT_S", default.listener_audio_limit_s
            ),
            partitions=_env_int(env, "MOODSTREAM_PARTITIONS", default.partitions),
            store=env.get("MOODSTREAM_STORE", default.store),
            api_token=env.get("MOODSTREAM_API_TOKEN") or None,
        )

    def to_env(self) -> dict[str, str]:
        """The environment that makes :meth:`from_env` rebuild these settings (for subprocesses)."""
        env = {
            "MOODSTREAM_HOME": str(self.home),
            "MOODSTREAM_CACHE": str(self.cache),
            "MOODSTREAM_SHARED_DATA": str(self.shared_data),
            "MOODSTREAM_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "MOODSTREAM_KAFKA_CONTROLLER_PORT": str(self.kafka_controller_port),
            "MOODSTREAM_S3_ENDPOINT": self.s3_endpoint,
            "MOODSTREAM_S3_CONSOLE_PORT": str(self.s3_console_port),
            "MOODSTREAM_S3_ACCESS_KEY": self.s3_access_key,
            "MOODSTREAM_S3_SECRET_KEY": self.s3_secret_key,
            "MOODSTREAM_S3_SECURE": "1" if self.s3_secure else "0",
            "MOODSTREAM_S3_REGION": self.s3_region,
            "MOODSTREAM_BUCKET_AUDIO": self.bucket_audio,
            "MOODSTREAM_BUCKET_FEATURES": self.bucket_features,
            "MOODSTREAM_BUCKET_MODELS": self.bucket_models,
            "MOODSTREAM_BUCKET_CLIPS": self.bucket_clips,
            "MOODSTREAM_TOPIC_PREFIX": self.topic_prefix,
            "MOODSTREAM_APP_ID": self.app_id,
            "MOODSTREAM_WEB_HOST": self.web_host,
            "MOODSTREAM_WEB_PORT": str(self.web_port),
            "MOODSTREAM_WEB_BODY_TIMEOUT_S": str(self.web_body_timeout_s),
            "MOODSTREAM_WEB_IDLE_TIMEOUT_S": str(self.web_idle_timeout_s),
            "MOODSTREAM_WEB_REPLY_TIMEOUT_S": str(self.web_reply_timeout_s),
            "MOODSTREAM_MIN_VOICE_CONFIDENCE": str(self.min_voice_confidence),
            "MOODSTREAM_CLIP_BATCH_SIZE": str(self.clip_batch_size),
            "MOODSTREAM_CLIP_BATCH_WAIT_MS": str(self.clip_batch_wait_ms),
            "MOODSTREAM_AUDIO_URL_TTL_S": str(self.audio_url_ttl_s),
            "MOODSTREAM_CLIP_READ_PROCESSES": str(self.clip_read_processes),
            "MOODSTREAM_CLIP_READ_TIMEOUT_S": str(self.clip_read_timeout_s),
            "MOODSTREAM_TRACK_BATCH_SIZE": str(self.track_batch_size),
            "MOODSTREAM_LISTENER_CLIP_LIMIT": str(self.listener_clip_limit),
            "MOODSTREAM_LISTENER_CLIP_WINDOW_S": str(self.listener_clip_window_s),
            "MOODSTREAM_LISTENER_AUDIO_LIMIT_S": str(self.listener_audio_limit_s),
            "MOODSTREAM_PARTITIONS": str(self.partitions),
            "MOODSTREAM_STORE": self.store,
        }
        if self.api_token:
            env["MOODSTREAM_API_TOKEN"] = self.api_token
        return env
