"""The theme jobs behind ``moodstream train themes`` and ``moodstream evaluate themes``."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.datasets.corpora import as_folders
from models.datasets.labelled import dataset_fingerprint
from models.features.music import DEFAULT_SPEC
from models.music_jobs import load_music_set
from models.registry import ModelRecord, ModelRegistry
from models.themes import DEFAULT_THEME_CONFIG, EmotionThemes, ThemeConfig, ThemeModel, match_topics
from schemas.emotions import EMOTIONS

__all__ = ["run_train_themes", "evaluate_themes", "run_evaluate_themes", "format_themes_report"]

logger = logging.getLogger(__name__)


def run_train_themes(
    data_dir: Path | Sequence[Path],
    *,
    cache_dir: Path,
    registry: ModelRegistry | None,
    config: ThemeConfig = DEFAULT_THEME_CONFIG,
    group_col: str | None = None,
    promote: bool = False,
    out_dir: Path | None = None,
) -> tuple[ModelRecord | None, Path, ThemeModel]:
    """Fit the four classes' theme models on a labelled folder; store them in ``registry`` (and
    promote them). With no registry they are only written to ``out_dir``."""
    clips, matrices, hashes = load_music_set(cache_dir, data_dir, group_col)
    model = ThemeModel.fit(matrices, [c.emotion for c in clips], config)
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix="moodstream-themes-"))
    files = model.save(out_dir)
    record = None
    if registry is not None:
        metrics = {
            e: {"tracks": t.fitted_tracks, "codewords": t.n_codewords}
            for e, t in model.by_emotion.items()
        }
        record = registry.push(
            "themes",
            {f.name: f for f in files},
            feature_spec=DEFAULT_SPEC.version,
            training_data=dataset_fingerprint(clips, hashes),
            hyperparameters=config.to_dict(),
            metrics=metrics,
        )
        if promote:
            registry.promote("themes", record.version)
    return record, out_dir, model


def _class_report(
    themes: EmotionThemes, matrices: list[np.ndarray], truth: list[str] | None, seed: int
) -> dict:
    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel
    from sklearn.metrics import adjusted_rand_score

    docs = [themes.document(m) for m in matrices]
    weights = np.stack([themes.topic_weights(m) for m in matrices])
    theme_of = [themes.topic_ids[int(t)] for t in weights.argmax(axis=1)]
    dictionary = Dictionary.from_corpus(docs, id2word=themes.lda.id2word)
    coherence = CoherenceModel(
        model=themes.lda, corpus=docs, dictionary=dictionary, coherence="u_mass"
    ).get_coherence()
    perplexity = float(np.exp2(-themes.lda.log_perplexity(docs)))
    # Stability: a second fit with another seed, ids carried over by the Hungarian matching.
    second = EmotionThemes.fit(themes.emotion, matrices, themes.config, seed=seed + 1)
    second_weights = np.stack([second.topic_weights(m) for m in matrices])
    ids, _, quality = match_topics(
        weights, second_weights, themes.topic_ids, themes.next_id, themes.config.match_threshold
    )
    second_theme = [ids[int(t)] for t in second_weights.argmax(axis=1)]
    sizes = {str(i): int(sum(1 for t in theme_of if t == i)) for i in themes.topic_ids}
    report = {
        "tracks": len(matrices),
        "codewords": themes.n_codewords,
        "coherence_u_mass": float(coherence),
        "perplexity": perplexity,
        "theme_sizes": sizes,
        "stability": float(np.mean(np.array(theme_of) == np.array(second_theme))),
        "match_quality": quality,
    }
    if truth is not None:
        report["ari"] = float(adjusted_rand_score(truth, theme_of))
    return report


def evaluate_themes(
    matrices: list[np.ndarray],
    emotions: list[str],
    *,
    config: ThemeConfig = DEFAULT_THEME_CONFIG,
    truth: list[str] | None = None,
) -> dict:
    """Per emotion: u_mass coherence, perplexity, theme sizes, stability across two refits
    (share of tracks keeping their theme id), and, given a truth column, the adjusted Rand index."""
    model = ThemeModel.fit(matrices, emotions, config)
    classes = {}
    for emotion, themes in model.by_emotion.items():
        idx = [i for i, e in enumerate(emotions) if e == emotion]
        classes[emotion] = _class_report(
            themes,
            [matrices[i] for i in idx],
            [truth[i] for i in idx] if truth is not None else None,
            config.seed,
        )
    return {
        "task": "themes",
        "config": config.to_dict(),
        "classes": classes,
        "emotions": list(EMOTIONS),
    }


def run_evaluate_themes(
    data_dir: Path | Sequence[Path],
    *,
    cache_dir: Path,
    out_dir: Path,
    config: ThemeConfig = DEFAULT_THEME_CONFIG,
    group_col: str | None = None,
    truth_col: str | None = None,
) -> dict:
    """Evaluate the theme model on a labelled folder; write report.json and theme_sizes.png."""
    clips, matrices, _ = load_music_set(cache_dir, data_dir, group_col)
    truth = None
    if truth_col is not None:
        missing = [c.path.name for c in clips if truth_col not in c.extra]
        if missing:
            from models.exceptions import DatasetError

            raise DatasetError(f"labels.csv has no column {truth_col!r}")
        truth = [c.extra[truth_col] for c in clips]
    report = evaluate_themes(matrices, [c.emotion for c in clips], config=config, truth=truth)
    report["data"] = [str(d) for d in as_folders(data_dir)]
    report["feature_spec"] = DEFAULT_SPEC.version
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    _plot_sizes(report, out_dir / "theme_sizes.png")
    return report


def _plot_sizes(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = report["classes"]
    fig, axes = plt.subplots(1, len(classes), figsize=(3 * len(classes), 3.2), squeeze=False)
    for ax, (emotion, info) in zip(axes[0], classes.items(), strict=True):
        labels = list(info["theme_sizes"])
        ax.bar(range(len(labels)), list(info["theme_sizes"].values()), color="tab:blue")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_title(emotion)
        ax.set_xlabel("theme id")
    axes[0][0].set_ylabel("tracks")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_themes_report(report: dict) -> str:
    """The per-emotion table printed by ``moodstream evaluate themes``."""
    has_ari = any("ari" in c for c in report["classes"].values())
    header = f"{'emotion':<8}{'tracks':>7}{'K':>5}{'u_mass':>9}{'perplex.':>10}{'stable':>8}"
    header += f"{'ARI':>7}" if has_ari else ""
    lines = [header + "  theme sizes"]
    for emotion, c in report["classes"].items():
        line = (
            f"{emotion:<8}{c['tracks']:>7}{c['codewords']:>5}{c['coherence_u_mass']:>9.2f}"
            f"{c['perplexity']:>10.1f}{100 * c['stability']:>7.1f}%"
        )
        line += f"{c['ari']:>7.2f}" if has_ari else ""
        lines.append(line + "  " + " ".join(f"{k}:{v}" for k, v in c["theme_sizes"].items()))
    return "\n".join(lines)
