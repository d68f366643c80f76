"""The promoted models a worker serves, loaded once and swapped when a new version is promoted.

``ModelHub.refresh()`` asks the registry which versions are promoted and loads the ones that
changed (in a thread: loading and inference never block the event loop); the worker calls it at
start and then every ``interval`` seconds. Agents read ``hub.music``, ``hub.themes`` and
``hub.voice`` at the moment they need them, so a swap takes effect on the next event.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from models.exceptions import ModelsError
from models.registry import ModelRecord, ModelRegistry
from streams.settings import Settings

__all__ = ["ModelHub"]

logger = logging.getLogger(__name__)


class ModelHub:
    """Holds the serving models of one worker process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cache_dir = Path(settings.home) / "cache" / "models"
        self._registry: ModelRegistry | None = None
        self.music = None
        self.themes = None
        self.themes_version = ""
        self.voice = None
        #: The registry record of each loaded model, by kind (what it was trained on).
        self.records: dict[str, ModelRecord] = {}
        self._lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """Whether every model an event may need (music, themes, voice) is loaded."""
        return all(model is not None for model in (self.music, self.themes, self.voice))

    @property
    def registry(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = ModelRegistry(self.settings.object_store, self.settings.bucket_models)
        return self._registry

    def refresh_sync(self) -> list[str]:
        """Load every promoted model whose version changed; return what was loaded."""
        from models.inference import load_music_classifier
        from models.themes import ThemeModel
        from models.voice import load_voice_classifier

        loaded = []
        with self._lock:
            for kind, current, load in (
                ("music", self.music, load_music_classifier),
                ("themes", self.themes, ThemeModel.from_registry),
                ("voice", self.voice, load_voice_classifier),
            ):
                try:
                    promoted = self.registry.promoted_version(kind)
                except ModelsError as exc:
                    logger.warning("registry unreachable for %s: %s", kind, exc)
                    continue
                version = (
                    getattr(current, "version", None) if kind != "themes" else self.themes_version
                )
                if promoted is None or promoted == version:
                    continue
                try:
                    model, record = load(self.registry, self.cache_dir, promoted)
                except ModelsError as exc:
                    logger.error("cannot load promoted %s model %s: %s", kind, promoted, exc)
                    continue
                if kind == "music":
                    self.music = model
                elif kind == "themes":
                    self.themes, self.themes_version = model, record.version
                else:
                    self.voice = model
                self.records[kind] = record
                loaded.append(record.version)
                logger.info("serving %s model %s", kind, record.version)
        return loaded

    def heard(self) -> dict:
        """Per loaded model, the corpora it was trained on and whether it has never heard real
        audio (``synthetic_only``): what /health and the page tell a listener."""
        return {
            kind: {
                "version": record.version,
                "corpora": record.metrics.get("corpora"),
                "synthetic_only": record.metrics.get("synthetic_only"),
                "cross_corpus_accuracy": record.metrics.get("cross_corpus_accuracy"),
            }
            for kind, record in sorted(self.records.items())
        }

    async def refresh(self) -> list[str]:
        return await asyncio.to_thread(self.refresh_sync)

    async def wait_for(self, kind: str, *, poll_s: float = 2.0):
        """The loaded model of ``kind``, waiting (and saying so every 30 s) until one is
        promoted and loaded: events wait in their partition instead of being dead-lettered."""
        waited = 0.0
        while getattr(self, kind) is None:
            if waited % 30 == 0:
                logger.warning(
                    "waiting for a promoted %s model: `moodstream train %s --data DIR --promote`",
                    kind, kind,
                )  # fmt: skip
            await asyncio.sleep(poll_s)
            waited += poll_s
            if waited % 10 == 0:
                await self.refresh()
        return getattr(self, kind)
