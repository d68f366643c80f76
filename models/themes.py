"""Themes inside each emotion (PAPER.md section 5): audio codebook -> bag of audio words -> LDA.

Per emotion class:

1. **Codebook.** Segment vectors are standardised with the class's own mean and standard
   deviation, then clustered by K-means into ``K`` codewords. ``K`` is the configured number
   (150, as the paper) capped at ``n_segments // segments_per_codeword`` (default 12 segments
   per codeword on average, at least 2 codewords): with fewer segments than that, codewords fit
   single tracks and every track becomes its own "word set", which LDA cannot group.
2. **Bag of audio words.** Each segment of a track is mapped to its nearest codeword
   (Euclidean); the normalised histogram is the track's BoAW vector. LDA is a model of word
   *counts*, so it reads the raw counts (a track's segments are its words).
3. **LDA** (gensim), ``topics`` topics (5, as the paper), sparse priors (alpha 0.1, eta 0.05:
   a track has one main theme, a theme a few characteristic words), batch variational Bayes
   with several restarts keeping the highest likelihood bound: with documents of a few dozen
   words, single runs vary a lot. A track's theme is its dominant topic; the whole
   distribution is kept too.

**Incremental updates.** A new track gets its theme at once from the current model
(:meth:`ThemeModel.add`). The codebook is *not* updated per track: moving codewords would
change the meaning of the words that LDA's topics are made of. Instead:

- every ``update_every`` new tracks of a class, the class's LDA gets gensim's **online update**
  with the new documents (same codebook, same topics: theme ids cannot move);
- once the class has grown by ``refit_growth`` (x2) since its last fit, codebook and LDA are
  **refit** on the kept tracks, and each new topic is matched to its predecessor by the
  Hungarian assignment on topic similarity (cosine of the two models' topic weights over the
  kept tracks). A matched topic keeps its id; a topic that matches nothing (similarity below
  ``match_threshold``) gets a new id. User sessions remember theme ids, so this matters.

Memory is bounded: a class keeps at most ``max_kept_tracks`` segment matrices (reservoir
sampling) for refits.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from models.exceptions import FeatureParameterError, ModelsError
from schemas.emotions import EMOTIONS

__all__ = [
    "DEFAULT_THEME_CONFIG",
    "ThemeConfig",
    "ThemeAssignment",
    "EmotionThemes",
    "ThemeModel",
    "ThemeModelError",
    "rebase",
]

logger = logging.getLogger(__name__)


class ThemeModelError(ModelsError):
    """The theme model cannot answer (no model for that emotion, too few tracks to fit)."""


@dataclass(frozen=True)
class ThemeConfig:
    """Hyper-parameters of the theme model (shared by the four emotion classes)."""

    codewords: int = 150
    segments_per_codeword: int = 12
    topics: int = 5
    alpha: float = 0.1
    eta: float = 0.05
    passes: int = 100
    iterations: int = 400
    restarts: int = 5
    update_every: int = 50
    refit_growth: float = 2.0
    match_threshold: float = 0.3
    max_kept_tracks: int = 5000
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_THEME_CONFIG = ThemeConfig()


@dataclass(frozen=True)
class ThemeAssignment:
    """A track's theme: the dominant topic's stable id and the whole distribution."""

    emotion: str
    theme_id: int
    distribution: dict[int, float]


def _check_matrix(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] != 62:
        raise FeatureParameterError(
            f"a segment matrix must be (n_segments >= 1, 62), got {matrix.shape}"
        )
    return matrix


@dataclass
class EmotionThemes:
    """The codebook and LDA of one emotion class, with stable theme ids."""

    emotion: str
    config: ThemeConfig
    mean: np.ndarray
    std: np.ndarray
    codebook: np.ndarray
    lda: object
    topic_ids: list[int]
    next_id: int
    fitted_tracks: int
    seen_tracks: int = 0
    pending: list[list[tuple[int, int]]] = field(default_factory=list)
    kept: list[np.ndarray] = field(default_factory=list)
    kept_keys: list[str] = field(default_factory=list)
    """Where each kept matrix is stored (its features key; "" for a training track)."""
    updates: int = 0
    refits: int = 0

    # -- fitting ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        emotion: str,
        matrices: Sequence[np.ndarray],
        config: ThemeConfig,
        *,
        seed: int | None = None,
    ) -> EmotionThemes:
        """Codebook and LDA for one class from its tracks' segment matrices."""
        matrices = [_check_matrix(m) for m in matrices]
        if len(matrices) < 2:
            raise ThemeModelError(
                f"{emotion}: at least 2 tracks are needed to find themes, got {len(matrices)}"
            )
        seed = config.seed if seed is None else seed
        mean, std, codebook = _fit_codebook(matrices, config, seed)
        docs = [_bow(_words(m, mean, std, codebook), codebook.shape[0]) for m in matrices]
        lda = _fit_lda(docs, codebook.shape[0], config, seed)
        themes = cls(
            emotion=emotion, config=config, mean=mean, std=std, codebook=codebook, lda=lda,
            topic_ids=list(range(config.topics)), next_id=config.topics,
            fitted_tracks=len(matrices), seen_tracks=len(matrices),
        )  # fmt: skip
        themes.kept = list(matrices[: config.max_kept_tracks])
        themes.kept_keys = [""] * len(themes.kept)
        return themes

    # -- inference -------------------------------------------------------------------------
    @property
    def n_codewords(self) -> int:
        return int(self.codebook.shape[0])

    def boaw(self, matrix: np.ndarray) -> np.ndarray:
        """The track's bag of audio words: normalised codeword histogram, length K."""
        counts = np.bincount(
            _words(_check_matrix(matrix), self.mean, self.std, self.codebook),
            minlength=self.n_codewords,
        )
        return counts / counts.sum()

    def document(self, matrix: np.ndarray) -> list[tuple[int, int]]:
        """The track as an LDA document: (codeword, count) pairs."""
        return _bow(
            _words(_check_matrix(matrix), self.mean, self.std, self.codebook), self.n_codewords
        )

    def topic_weights(self, matrix: np.ndarray) -> np.ndarray:
        """The track's weights over the LDA topics, in topic order (not theme ids)."""
        return self._topic_weights(self.document(matrix))

    def _topic_weights(self, doc) -> np.ndarray:
        weights = np.zeros(self.config.topics)
        for topic, weight in self.lda.get_document_topics(doc, minimum_probability=0.0):
            weights[topic] = weight
        return weights

    def assign(self, matrix: np.ndarray) -> ThemeAssignment:
        """The theme of a track from the current model (nothing is learnt)."""
        weights = self.topic_weights(matrix)
        distribution = {self.topic_ids[t]: float(w) for t, w in enumerate(weights)}
        return ThemeAssignment(self.emotion, self.topic_ids[int(np.argmax(weights))], distribution)

    # -- incremental -----------------------------------------------------------------------
    def add(self, matrix: np.ndarray, key: str = "") -> ThemeAssignment:
        """Assign a new track at once, then learn from it (online update or refit when due).

        ``key`` says where the matrix is stored: a snapshot names its kept tracks by key.
        """
        matrix = _check_matrix(matrix)
        assignment = self.assign(matrix)
        self.seen_tracks += 1
        self._keep(matrix, key)
        self.pending.append(self.document(matrix))
        if self.seen_tracks >= self.config.refit_growth * self.fitted_tracks:
            self.refit()
        elif len(self.pending) >= self.config.update_every:
            self.update()
        return assignment

    def _keep(self, matrix: np.ndarray, key: str) -> None:
        if len(self.kept) < self.config.max_kept_tracks:
            self.kept.append(matrix)
            self.kept_keys.append(key)
            return
        rng = np.random.default_rng(self.config.seed + self.seen_tracks)
        slot = int(rng.integers(0, self.seen_tracks))
        if slot < self.config.max_kept_tracks:
            self.kept[slot] = matrix
            self.kept_keys[slot] = key

    # -- snapshots -------------------------------------------------------------------------
    def to_snapshot(self) -> bytes:
        """The whole learning state as bytes: arrays, the LDA (with its random state), ids,
        counters, pending documents, and the kept tracks by their features keys.

        Restored by :meth:`from_snapshot`, it goes on exactly as this object would. The bytes
        are a pickle: snapshots are written and read by moodstream's own workers, in its own
        bucket, like the gensim files in the registry.
        """
        if any(not key for key in self.kept_keys):
            raise ThemeModelError(
                f"{self.emotion}: a kept track has no features key, so a snapshot cannot name it"
            )
        state = {
            "format": 1, "emotion": self.emotion, "config": self.config.to_dict(),
            "mean": self.mean, "std": self.std, "codebook": self.codebook, "lda": self.lda,
            "topic_ids": self.topic_ids, "next_id": self.next_id,
            "fitted_tracks": self.fitted_tracks, "seen_tracks": self.seen_tracks,
            "pending": self.pending, "kept_keys": self.kept_keys,
            "updates": self.updates, "refits": self.refits,
        }  # fmt: skip
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_snapshot(cls, data: bytes, load_matrix: Callable[[str], np.ndarray]) -> EmotionThemes:
        """The state :meth:`to_snapshot` wrote; ``load_matrix(key)`` reads each kept track."""
        state = pickle.loads(data)  # noqa: S301 (our own snapshot, see to_snapshot)
        if state.get("format") != 1:
            raise ThemeModelError(f"unknown theme snapshot format {state.get('format')!r}")
        keys = list(state["kept_keys"])
        return cls(
            emotion=state["emotion"], config=ThemeConfig(**state["config"]),
            mean=state["mean"], std=state["std"], codebook=state["codebook"], lda=state["lda"],
            topic_ids=list(state["topic_ids"]), next_id=int(state["next_id"]),
            fitted_tracks=int(state["fitted_tracks"]), seen_tracks=int(state["seen_tracks"]),
            pending=list(state["pending"]), kept=[_check_matrix(load_matrix(k)) for k in keys],
            kept_keys=keys, updates=int(state["updates"]), refits=int(state["refits"]),
        )  # fmt: skip

    def update(self) -> None:
        """gensim's online LDA update with the pending documents (same codebook, same ids)."""
        if not self.pending:
            return
        # One online pass over the new documents only: gensim weighs the step by its decaying
        # learning rate, so a handful of tracks nudges the topics rather than replacing them.
        self.lda.update(self.pending, passes=1, update_every=1, chunksize=len(self.pending))
        logger.info("%s themes: online update with %d tracks", self.emotion, len(self.pending))
        self.pending = []
        self.updates += 1

    def refit(self, *, seed: int | None = None) -> float:
        """Refit codebook and LDA on the kept tracks; carry theme ids over. Return the match quality.

        The quality is the mean similarity of the matched topic pairs (1.0: the same topics).
        """
        old_weights = np.stack([self.topic_weights(m) for m in self.kept])
        seed = self.config.seed + self.refits + 1 if seed is None else seed
        new = EmotionThemes.fit(self.emotion, self.kept, self.config, seed=seed)
        new_weights = np.stack([new.topic_weights(m) for m in self.kept])
        ids, self.next_id, quality = match_topics(
            old_weights, new_weights, self.topic_ids, self.next_id, self.config.match_threshold
        )
        self.mean, self.std, self.codebook, self.lda = new.mean, new.std, new.codebook, new.lda
        self.topic_ids = ids
        self.fitted_tracks = self.seen_tracks
        self.pending = []
        self.refits += 1
        logger.info(
            "%s themes: refit on %d tracks, ids %s (match quality %.2f)",
            self.emotion,
            len(self.kept),
            ids,
            quality,
        )
        return quality


def rebase(current: EmotionThemes, promoted: EmotionThemes) -> EmotionThemes:
    """``promoted`` (a newly promoted model's class, not shared) continuing ``current``'s ids.

    Each promoted topic takes the id of the current topic it matches on the kept tracks
    (:func:`match_topics`); a topic that matches none, or every topic when no track is kept,
    gets a new id from ``current.next_id``. An id once handed out is never given to another
    topic. The kept tracks and the counts carry over; refits resume from the promoted fit.
    """
    if current.kept:
        old_weights = np.stack([current.topic_weights(m) for m in current.kept])
        new_weights = np.stack([promoted.topic_weights(m) for m in current.kept])
        ids, next_id, quality = match_topics(
            old_weights, new_weights, current.topic_ids, current.next_id,
            current.config.match_threshold,
        )  # fmt: skip
    else:
        next_id = current.next_id + len(promoted.topic_ids)
        ids, quality = list(range(current.next_id, next_id)), 0.0
    promoted.topic_ids, promoted.next_id = ids, next_id
    promoted.kept, promoted.kept_keys = list(current.kept), list(current.kept_keys)
    promoted.seen_tracks = max(promoted.seen_tracks, current.seen_tracks)
    promoted.pending = []
    logger.info(
        "%s themes: rebased on a promoted model, ids %s (match quality %.2f)",
        current.emotion, ids, quality,
    )  # fmt: skip
    return promoted


def match_topics(
    old_weights: np.ndarray,
    new_weights: np.ndarray,
    old_ids: list[int],
    next_id: int,
    threshold: float,
) -> tuple[list[int], int, float]:
    """Stable ids for a refit's topics: Hungarian assignment on topic similarity.

    ``old_weights`` and ``new_weights`` are ``(n_tracks, topics)`` topic weights of the same
    tracks under the old and the new model. Similarity of old topic i and new topic j is the
    cosine of their weight columns. Returns (ids of the new topics, next free id, mean
    similarity of the kept matches).
    """
    from scipy.optimize import linear_sum_assignment

    a = old_weights / (np.linalg.norm(old_weights, axis=0, keepdims=True) + 1e-12)
    b = new_weights / (np.linalg.norm(new_weights, axis=0, keepdims=True) + 1e-12)
    similarity = a.T @ b
    rows, cols = linear_sum_assignment(-similarity)
    ids = [-1] * new_weights.shape[1]
    kept = []
    for i, j in zip(rows, cols, strict=True):
        if similarity[i, j] >= threshold:
            ids[j] = old_ids[i]
            kept.append(similarity[i, j])
    for j, value in enumerate(ids):
        if value < 0:
            ids[j] = next_id
            next_id += 1
    return ids, next_id, float(np.mean(kept)) if kept else 0.0


def _fit_codebook(matrices: Sequence[np.ndarray], config: ThemeConfig, seed: int):
    from sklearn.cluster import KMeans

    segments = np.concatenate(matrices).astype(np.float64)
    mean = segments.mean(axis=0)
    std = np.maximum(segments.std(axis=0), 1e-6)
    k = int(min(config.codewords, max(2, segments.shape[0] // config.segments_per_codeword)))
    kmeans = KMeans(n_clusters=k, n_init=3, random_state=seed).fit((segments - mean) / std)
    return (
        mean.astype(np.float32),
        std.astype(np.float32),
        kmeans.cluster_centers_.astype(np.float32),
    )


def _words(
    matrix: np.ndarray, mean: np.ndarray, std: np.ndarray, codebook: np.ndarray
) -> np.ndarray:
    z = (matrix - mean) / std
    distances = (
        (z * z).sum(axis=1)[:, None]
        - 2.0 * z @ codebook.T
        + (codebook * codebook).sum(axis=1)[None, :]
    )
    return distances.argmin(axis=1)


def _bow(words: np.ndarray, k: int) -> list[tuple[int, int]]:
    counts = np.bincount(words, minlength=k)
    return [(int(w), int(c)) for w, c in enumerate(counts) if c > 0]


def _fit_lda(docs, k: int, config: ThemeConfig, seed: int):
    from gensim.models import LdaModel

    id2word = {i: f"w{i}" for i in range(k)}
    best, best_bound = None, -np.inf
    for restart in range(config.restarts):
        lda = LdaModel(
            docs, num_topics=config.topics, id2word=id2word, passes=config.passes,
            iterations=config.iterations, update_every=0, alpha=config.alpha, eta=config.eta,
            random_state=seed * 1000 + restart,
        )  # fmt: skip
        bound = lda.bound(docs)
        if bound > best_bound:
            best, best_bound = lda, bound
    return best


class ThemeModel:
    """The four classes' theme models, with save/load for the registry."""

    def __init__(self, config: ThemeConfig, by_emotion: dict[str, EmotionThemes]) -> None:
        self.config = config
        self.by_emotion = by_emotion

    @classmethod
    def fit(
        cls,
        matrices: Sequence[np.ndarray],
        emotions: Sequence[str],
        config: ThemeConfig = DEFAULT_THEME_CONFIG,
    ) -> ThemeModel:
        """Fit one class model per emotion present (with at least 2 tracks)."""
        by_emotion = {}
        for emotion in EMOTIONS:
            mine = [m for m, e in zip(matrices, emotions, strict=True) if e == emotion]
            if len(mine) >= 2:
                by_emotion[emotion] = EmotionThemes.fit(emotion, mine, config)
        if not by_emotion:
            raise ThemeModelError("no emotion has 2 or more tracks: nothing to find themes in")
        return cls(config, by_emotion)

    def _class(self, emotion: str) -> EmotionThemes:
        try:
            return self.by_emotion[emotion]
        except KeyError:
            raise ThemeModelError(
                f"the theme model has no {emotion!r} class (it has: {', '.join(self.by_emotion)})"
            ) from None

    def assign(self, emotion: str, matrix: np.ndarray) -> ThemeAssignment:
        """The theme of a track of ``emotion`` (nothing is learnt)."""
        return self._class(emotion).assign(matrix)

    def add(self, emotion: str, matrix: np.ndarray) -> ThemeAssignment:
        """Assign a new track and learn from it (see :meth:`EmotionThemes.add`)."""
        return self._class(emotion).add(matrix)

    def save(self, folder: Path) -> list[Path]:
        """Write the model into ``folder``; return the files written."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        meta = {"config": self.config.to_dict(), "classes": {}}
        for emotion, themes in self.by_emotion.items():
            arrays = folder / f"{emotion}.npz"
            np.savez(arrays, mean=themes.mean, std=themes.std, codebook=themes.codebook)
            lda_file = folder / f"{emotion}.lda"
            themes.lda.save(str(lda_file), separately=[])
            files += [arrays, *sorted(folder.glob(f"{emotion}.lda*"))]
            meta["classes"][emotion] = {
                "topic_ids": themes.topic_ids, "next_id": themes.next_id,
                "fitted_tracks": themes.fitted_tracks, "seen_tracks": themes.seen_tracks,
                "updates": themes.updates, "refits": themes.refits,
            }  # fmt: skip
        (folder / "themes.json").write_text(json.dumps(meta, indent=2))
        return [folder / "themes.json", *files]

    @classmethod
    def from_registry(cls, registry, cache_dir: Path, version: str | None = None):
        """The promoted (or given) theme model and its record; refuses other features."""
        from models.features.music import DEFAULT_SPEC

        record, folder = registry.fetch(
            "themes", version, dest=cache_dir, expected_feature_spec=DEFAULT_SPEC.version
        )
        return cls.load(folder), record

    @classmethod
    def load(cls, folder: Path) -> ThemeModel:
        """Read a model written by :meth:`save` (kept tracks are not stored: refits restart them)."""
        from gensim.models import LdaModel

        folder = Path(folder)
        meta = json.loads((folder / "themes.json").read_text())
        config = ThemeConfig(**meta["config"])
        by_emotion = {}
        for emotion, info in meta["classes"].items():
            arrays = np.load(folder / f"{emotion}.npz")
            by_emotion[emotion] = EmotionThemes(
                emotion=emotion, config=config, mean=arrays["mean"], std=arrays["std"],
                codebook=arrays["codebook"], lda=LdaModel.load(str(folder / f"{emotion}.lda")),
                topic_ids=list(info["topic_ids"]), next_id=int(info["next_id"]),
                fitted_tracks=int(info["fitted_tracks"]), seen_tracks=int(info["seen_tracks"]),
                updates=int(info["updates"]), refits=int(info["refits"]),
            )  # fmt: skip
        return cls(config, by_emotion)
