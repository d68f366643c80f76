"""The stream agents: thin coroutines that decode, call a pure function, update tables, emit.

This module only composes the stages; each stage is a module of :mod:`streams.stages` that
says its input and output topics, its tables and its delivery guarantee, receives only what it
uses, and imports no other stage (they talk through topics and tables). Every agent is one
loop of :mod:`streams.stages.loops` around a handler of its own: a failing event is
dead-lettered with its reason and the loop goes on. Events are size-checked before they are
decoded (a feedback event over 64 KiB is refused undecoded).

Ingest::

    tracks.discovered -register_tracks-> tracks.registered       (stages.registration)
        -extract_features-> tracks.features                       (stages.features)
        -label_tracks-> tracks.classified (keyed by emotion)      (stages.labelling)
        -theme_tracks-> tracks.labelled  (+ tables: tracks; themes, the owners' checkpoints;
                                           cards, the catalog)    (stages.themes)

Recommendation::

    voice.clips -recommend-> recommendations   (sessions table; section 7 of the paper;
                                                stages.clips)
    feedback -route_feedback-> feedback.by-user -learn_feedback-> sessions  (stages.feedback)

Every agent is idempotent: it skips an event whose id its table has already handled, and its
outputs are keyed by those ids and computed deterministically, so a replayed event produces no
new state and, at most, the identical output again (consumers drop it by id). Outputs are sent
before the table write that records them (a crash in between re-sends, never loses), and every
table value is size-checked before the send. The theme owner is the exception: it records its
checkpoint first and answers the checkpoint's own event again after a crash, because learning
must happen exactly once (:mod:`streams.theme_owner`).
"""

from __future__ import annotations

import faust

from streams.clip_readers import ClipReaders
from streams.deadletter import DeadLetterPolicy
from streams.model_hub import ModelHub
from streams.pipeline_io import PipelineStore
from streams.stages.clips import Clips
from streams.stages.features import FeatureExtraction
from streams.stages.feedback import Feedback
from streams.stages.labelling import Labelling
from streams.stages.registration import Registration
from streams.stages.themes import Themes
from streams.tables import Tables
from streams.topics import Topics

__all__ = ["define_agents"]


def define_agents(
    app: faust.App,
    topics: Topics,
    tables: Tables,
    dead_letters: DeadLetterPolicy,
    hub: ModelHub | None = None,
    store: PipelineStore | None = None,
    readers: ClipReaders | None = None,
) -> dict:
    """Register every stage's agents on ``app``; return them by name (tests drive them with
    ``test_context``). Without a model hub and a store only registration runs."""
    t = topics
    agents = Registration(
        t.track_discovered, t.track_registered, tables.tracks, dead_letters
    ).define(app)
    if hub is None or store is None:
        return agents
    settings = hub.settings
    readers = readers or ClipReaders(settings.clip_read_processes)
    stages = (
        FeatureExtraction(
            t.track_registered, t.track_features, tables.tracks, store, dead_letters,
            settings.track_batch_size,
        ),
        Labelling(t.track_features, t.track_classified, tables.tracks, store, hub, dead_letters),
        Themes(
            t.track_classified, t.track_labelled, tables.themes, tables.cards, store, hub,
            dead_letters, app.conf.id,
        ),
        Clips(
            t.voice_clips, t.voice_clips_by_user, t.recommendations, tables.sessions,
            tables.cards, store, hub, readers, dead_letters,
        ),
        Feedback(
            t.feedback, t.feedback_by_user, tables.sessions, tables.cards, dead_letters,
            settings.partitions,
        ),
    )  # fmt: skip
    for stage in stages:
        agents.update(stage.define(app))
    return agents
