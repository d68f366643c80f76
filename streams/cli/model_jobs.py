"""``moodstream train|evaluate music|voice|themes`` and ``moodstream models``: the ML jobs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from streams.settings import Settings

__all__ = ["train", "evaluate", "models_group"]

_KINDS = click.Choice(["music", "themes", "voice"])

#: ``--model``/``--row`` keys of the music models: Table 1's rows, then the embedding candidates
#: (``models.music_jobs.MUSIC_MODELS``; spelled out here so ``--help`` needs no TensorFlow).
MUSIC_MODEL_KEYS = (
    "baseline", "lstm", "att-lstm", "method", "method-ce", "embedding-lr", "embedding-stats-lr",
)  # fmt: skip
#: ``--row`` keys of ``evaluate voice``: Table 3's rows, then the candidates
#: (``models.voice_model.VOICE_ROWS_BY_KEY``, ``models.voice_candidates.VOICE_CANDIDATES``).
VOICE_ROW_KEYS = (
    "crnn", "hsf-crnn", "method", "functionals-lr", "functionals-listener-lr", "quality-listener-lr",
    "quality-listener-mlp", "quality-listener-lr-speed", "quality-listener-mlp-speed",
)  # fmt: skip
#: What ``train voice`` trains by default (``models.voice_jobs.DEFAULT_VOICE_MODEL``).
DEFAULT_VOICE_MODEL_KEY = "quality-listener-mlp"
#: What ``train music`` trains by default (``models.music_jobs.DEFAULT_MUSIC_MODEL``).
DEFAULT_MUSIC_MODEL_KEY = "embedding-stats-lr"


def _options(*options):
    """One decorator applying ``options`` in order (shared option sets are defined once)."""

    def apply(fn):
        for option in reversed(options):
            fn = option(fn)
        return fn

    return apply


_data_option = _options(
    click.option(
        "--data",
        "data_dirs",
        multiple=True,
        type=click.Path(exists=True, file_okay=False),
        help="Folder with labels.csv; repeat it to train on the union (groups kept apart per "
        "corpus). Default for music and voice: every real corpus in MOODSTREAM_SHARED_DATA.",
    ),
    click.option(
        "--data-list",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help="A file naming one labelled folder per line (relative to the file), instead.",
    ),
)


def _corpora(settings: Settings, task: str | None, data_dirs, data_list) -> list[Path]:
    """The folders a command reads: ``--data`` / ``--data-list``, else (music and voice) every
    real corpus of the task present under ``settings.shared_data``."""
    from models.datasets.corpora import default_corpora, read_dataset_list

    folders = [Path(d) for d in data_dirs]
    if data_list:
        folders += read_dataset_list(Path(data_list))
    if folders:
        return folders
    found = default_corpora(settings.shared_data, task) if task else []
    if not found:
        raise click.UsageError(
            f"no --data given and no real {task or ''} corpus under {settings.shared_data} "
            "(MOODSTREAM_SHARED_DATA): pass --data FOLDER"
        )
    click.echo(f"corpora: {', '.join(f.name for f in found)} (from {settings.shared_data})")
    return found


_seed_option = click.option("--seed", type=int, default=0, show_default=True)

#: Options of every train/evaluate command of a network (music, voice).
network_options = _options(
    _data_option,
    click.option(
        "--group-col", default=None, help="Column that keeps clips of one song/speaker on one side."
    ),
    _seed_option,
    click.option(
        "--max-epochs",
        type=int,
        default=None,
        help="Early-stopping ceiling (default: the config's; music 300, voice 60).",
    ),
    click.option(
        "--batch-size",
        type=int,
        default=None,
        help="Default: the config's (music: the paper's 150; voice: 32).",
    ),
    click.option(
        "--patience",
        type=int,
        default=None,
        help="Early-stopping patience in epochs (default: the config's; music 25, voice 10).",
    ),
)

#: Options of both theme commands.
theme_options = _options(
    _data_option,
    click.option(
        "--topics", type=int, default=5, show_default=True, help="LDA topics per emotion."
    ),
    click.option(
        "--codewords", type=int, default=150, show_default=True, help="Codebook size cap."
    ),
    _seed_option,
)

#: Where every train command puts its model.
store_options = _options(
    click.option(
        "--promote/--no-promote", default=False, help="Promote the new model for serving."
    ),
    click.option(
        "--no-push", is_flag=True, help="Keep the model local; do not store it in the registry."
    ),
    click.option(
        "--out",
        "out_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Also keep the artefacts here.",
    ),
)


_protocol_option = click.option(
    "--protocol",
    type=click.Choice(["grouped", "loco"]),
    default="grouped",
    show_default=True,
    help="grouped: grouped k-fold over the pooled corpora; loco: that, and beside it "
    "leave-one-corpus-out (trained on the other corpora, tested on each one).",
)


def _check_cv_folds(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value == 1:
        raise click.BadParameter("use 0 (no cross-validation) or at least 2 folds")
    return value


#: Folds a candidate is cross-validated on before training unless ``--cv-folds`` says otherwise
#: (seconds for a logistic regression; the networks default to none: hours on real data).
CANDIDATE_CV_FOLDS = 5

_cv_folds_option = click.option(
    "--cv-folds",
    type=click.IntRange(min=0),
    default=None,
    callback=_check_cv_folds,
    help="First cross-validate on this many grouped folds and store the accuracy with the model "
    f"(models promote then refuses a worse one); 0 skips it. Default: {CANDIDATE_CV_FOLDS} for "
    "a candidate, 0 for a network.",
)


def _cv_folds_for(model, cv_folds: int | None) -> int:
    """``--cv-folds`` as given, else the default of the model's kind."""
    if cv_folds is not None:
        return cv_folds
    return 0 if hasattr(model, "with_") else CANDIDATE_CV_FOLDS


def _eval_out_option(default: str):
    return click.option(
        "--out", "out_dir", type=click.Path(file_okay=False), default=default, show_default=True
    )


def _overrides(max_epochs: int | None, batch_size: int | None, patience: int | None) -> dict:
    pairs = (("max_epochs", max_epochs), ("batch_size", batch_size), ("patience", patience))
    return {k: v for k, v in pairs if v is not None}


def _registry(settings: Settings, no_push: bool = False):
    """The model registry, or ``None`` when the model stays local (``--no-push``)."""
    if no_push:
        return None
    from models.registry import ModelRegistry

    return ModelRegistry(settings.object_store, settings.bucket_models)


def _cache_dir(settings: Settings) -> Path:
    return settings.home / "cache"


def _stored_where(settings: Settings, no_push: bool, promote: bool, out_dir: str | None) -> dict:
    """The keyword arguments every ``run_train_*`` job takes from the store options."""
    return {
        "cache_dir": _cache_dir(settings),
        "registry": _registry(settings, no_push),
        "promote": promote,
        "out_dir": Path(out_dir) if out_dir else None,
    }


def _echo_stored(record, folder: Path, promote: bool) -> None:
    click.echo(f"model artefacts: {folder}")
    if record:
        click.echo(
            f"stored as {record.version}{' (promoted)' if promote else ''}: {record.metrics}"
        )


def _echo_report(text: str, out_dir: str) -> None:
    click.echo(text)
    click.echo(f"\nreport: {Path(out_dir) / 'report.json'}")


def _with_network_options(model, key: str, overrides: dict):
    """A network configuration with the command's overrides; a candidate (a logistic
    regression) refuses them."""
    if hasattr(model, "with_"):
        return model.with_(**overrides)
    if overrides:
        raise click.UsageError(
            f"--max-epochs/--batch-size/--patience train networks; {key} is a logistic "
            "regression (choose --model method for the paper's network)"
        )
    return model


# --------------------------------------------------------------------------- train


@click.group()
def train() -> None:
    """Train a model and store it in the registry."""


@train.command("music")
@network_options
@click.option(
    "--model",
    "model_key",
    type=click.Choice(MUSIC_MODEL_KEYS),
    default=DEFAULT_MUSIC_MODEL_KEY,
    show_default=True,
    help="A Table 1 network (the paper's method: 'method', or 'method-ce' with cross-entropy) or "
    "an embedding candidate; the default is the champion of docs/music-model.md.",
)
@store_options
@_cv_folds_option
@click.pass_obj
def train_music(
    settings: Settings, data_dirs, data_list, group_col, seed, max_epochs, batch_size, patience, model_key,
    promote, no_push, out_dir, cv_folds,
) -> None:  # fmt: skip
    """Train a music emotion model on a labelled folder (default: the champion candidate)."""
    from models.music_jobs import MUSIC_MODELS, run_train_music

    model = _with_network_options(
        MUSIC_MODELS[model_key], model_key, _overrides(max_epochs, batch_size, patience)
    )
    record, folder = run_train_music(
        _corpora(settings, "music", data_dirs, data_list), model=model, group_col=group_col, seed=seed,
        cv_folds=_cv_folds_for(model, cv_folds),
        **_stored_where(settings, no_push, promote, out_dir),
    )  # fmt: skip
    _echo_stored(record, folder, promote)


@train.command("voice")
@network_options
@click.option(
    "--model",
    "model_key",
    type=click.Choice(VOICE_ROW_KEYS),
    default=DEFAULT_VOICE_MODEL_KEY,
    show_default=True,
    help="A Table 3 network (the paper's method: 'method') or an HSF-functionals candidate; "
    "the default is the champion of docs/voice-model.md (every real speech corpus).",
)
@store_options
@_cv_folds_option
@click.pass_obj
def train_voice(
    settings: Settings, data_dirs, data_list, group_col, seed, max_epochs, batch_size, patience, model_key,
    promote, no_push, out_dir, cv_folds,
) -> None:  # fmt: skip
    """Train a voice emotion model on a labelled folder (default: the champion candidate)."""
    from models.voice_jobs import VOICE_MODELS, run_train_voice

    model = _with_network_options(
        VOICE_MODELS[model_key], model_key, _overrides(max_epochs, batch_size, patience)
    )
    record, folder = run_train_voice(
        _corpora(settings, "voice", data_dirs, data_list), model=model, group_col=group_col, seed=seed,
        cv_folds=_cv_folds_for(model, cv_folds),
        **_stored_where(settings, no_push, promote, out_dir),
    )  # fmt: skip
    _echo_stored(record, folder, promote)


@train.command("themes")
@theme_options
@store_options
@click.pass_obj
def train_themes(
    settings: Settings, data_dirs, data_list, topics, codewords, seed, promote, no_push, out_dir
) -> None:
    """Fit per-emotion codebooks and LDA theme models on a labelled folder."""
    from models.theme_jobs import run_train_themes
    from models.themes import ThemeConfig

    record, folder, _ = run_train_themes(
        _corpora(settings, "music", data_dirs, data_list),
        config=ThemeConfig(topics=topics, codewords=codewords, seed=seed),
        **_stored_where(settings, no_push, promote, out_dir),
    )  # fmt: skip
    click.echo(f"model files: {folder}")
    if record:
        click.echo(f"stored as {record.version}{' (promoted)' if promote else ''}")


# --------------------------------------------------------------------------- evaluate


@click.group()
def evaluate() -> None:
    """Cross-validated evaluation beside the paper's tables."""


@evaluate.command("music")
@network_options
@click.option("--folds", type=int, default=5, show_default=True)
@click.option(
    "--row",
    "row_keys",
    multiple=True,
    type=click.Choice(MUSIC_MODEL_KEYS),
    help="Evaluate only these rows: Table 1's and the musicnn-embedding candidates (repeatable; "
    "default: all). The SVM reference row always runs.",
)
@_eval_out_option("artifacts/music-eval")
@_protocol_option
@click.pass_obj
def evaluate_music_cmd(
    settings: Settings, data_dirs, data_list, group_col, seed, max_epochs, batch_size, patience,
    folds, row_keys, out_dir, protocol,
) -> None:  # fmt: skip
    """All Table 1 rows + an SVM reference, Table 2 confusion; report.json and PNGs in --out."""
    from models.evaluation import format_cv_report
    from models.music_candidates import CANDIDATES
    from models.music_jobs import run_evaluate_music
    from models.music_model import ROWS_BY_KEY, TABLE1_ROWS

    paper_rows = tuple(ROWS_BY_KEY[k] for k in row_keys if k in ROWS_BY_KEY)
    candidates = tuple(CANDIDATES[k] for k in row_keys if k in CANDIDATES)
    report = run_evaluate_music(
        _corpora(settings, "music", data_dirs, data_list), cache_dir=_cache_dir(settings),
        folds=folds, group_col=group_col, protocol=protocol,
        out_dir=Path(out_dir), seed=seed, overrides=_overrides(max_epochs, batch_size, patience),
        rows=paper_rows if row_keys else TABLE1_ROWS,
        candidates=candidates if row_keys else tuple(CANDIDATES.values()),
    )  # fmt: skip
    _echo_report(format_cv_report(report), out_dir)


@evaluate.command("voice")
@network_options
@click.option("--folds", type=int, default=5, show_default=True)
@click.option(
    "--row",
    "row_keys",
    multiple=True,
    type=click.Choice(VOICE_ROW_KEYS),
    help="Evaluate only these rows: Table 3's and the HSF-functionals candidates (repeatable; "
    "default: all).",
)
@click.option(
    "--no-reference", is_flag=True, help="Skip the eGeMAPS + SVM reference row (needs opensmile)."
)
@_eval_out_option("artifacts/voice-eval")
@_protocol_option
@click.pass_obj
def evaluate_voice_cmd(
    settings: Settings, data_dirs, data_list, group_col, seed, max_epochs, batch_size, patience,
    folds, row_keys, no_reference, out_dir, protocol,
) -> None:  # fmt: skip
    """Speaker-independent CV of the Table 3 rows (+ eGeMAPS/SVM); report.json and PNGs in --out."""
    from models.evaluation import format_cv_report
    from models.voice_candidates import VOICE_CANDIDATES
    from models.voice_jobs import run_evaluate_voice
    from models.voice_model import TABLE3_ROWS, VOICE_ROWS_BY_KEY

    paper_rows = tuple(VOICE_ROWS_BY_KEY[k] for k in row_keys if k in VOICE_ROWS_BY_KEY)
    candidates = tuple(VOICE_CANDIDATES[k] for k in row_keys if k in VOICE_CANDIDATES)
    report = run_evaluate_voice(
        _corpora(settings, "voice", data_dirs, data_list), cache_dir=_cache_dir(settings),
        out_dir=Path(out_dir), folds=folds, protocol=protocol,
        group_col=group_col, seed=seed, overrides=_overrides(max_epochs, batch_size, patience),
        rows=paper_rows if row_keys else TABLE3_ROWS,
        candidates=candidates if row_keys else tuple(VOICE_CANDIDATES.values()),
        reference=not no_reference,
    )  # fmt: skip
    _echo_report(format_cv_report(report), out_dir)


@evaluate.command("themes")
@theme_options
@click.option(
    "--truth-col", default=None, help="A labels.csv column of known themes: adds the ARI."
)
@_eval_out_option("artifacts/themes-eval")
@click.pass_obj
def evaluate_themes_cmd(
    settings: Settings, data_dirs, data_list, topics, codewords, seed, truth_col, out_dir
) -> None:
    """Coherence, perplexity, sizes and stability of the themes per emotion; report.json + PNG."""
    from models.theme_jobs import format_themes_report, run_evaluate_themes
    from models.themes import ThemeConfig

    report = run_evaluate_themes(
        _corpora(settings, "music", data_dirs, data_list), cache_dir=_cache_dir(settings),
        out_dir=Path(out_dir),
        config=ThemeConfig(topics=topics, codewords=codewords, seed=seed), truth_col=truth_col,
    )  # fmt: skip
    _echo_report(format_themes_report(report), out_dir)


# --------------------------------------------------------------------------- models


@click.group("models")
def models_group() -> None:
    """The model registry: list, show, promote."""


@models_group.command("list")
@click.argument("kind", required=False, type=_KINDS)
@click.pass_obj
def models_list(settings: Settings, kind) -> None:
    """Stored models, oldest first; * marks the promoted ones."""
    registry = _registry(settings)
    promoted = {k: registry.promoted_version(k) for k in _KINDS.choices}
    for record in registry.list(kind):
        mark = "*" if promoted.get(record.kind) == record.version else " "
        click.echo(
            f"{mark} {record.version:<40} {record.created_at}  {record.feature_spec}  "
            f"{json.dumps(record.metrics)}"
        )


@models_group.command("show")
@click.argument("kind", type=_KINDS)
@click.argument("version")
@click.pass_obj
def models_show(settings: Settings, kind, version) -> None:
    """A model's metadata as JSON."""
    from models.exceptions import ModelsError

    try:
        click.echo(_registry(settings).show(kind, version).to_json())
    except ModelsError as exc:
        raise click.ClickException(str(exc)) from exc


@models_group.command("promote")
@click.argument("kind", type=_KINDS)
@click.argument("version")
@click.option(
    "--force", is_flag=True, help="Promote even if it scored below the promoted model in CV."
)
@click.pass_obj
def models_promote(settings: Settings, kind, version, force: bool) -> None:
    """Make VERSION the model that workers serve (refused when it is worse; see --force)."""
    from models.exceptions import ModelsError

    try:
        _registry(settings).promote(kind, version, force=force)
    except ModelsError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"promoted {version}")


@evaluate.command("speech-rule")
@_data_option
@click.option(
    "--music",
    "music_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Music corpora for the acceptance side (default: the real music corpora present).",
)
@_seed_option
@_eval_out_option("artifacts/speech-rule")
@click.pass_obj
def evaluate_speech_rule_cmd(
    settings: Settings, data_dirs, data_list, music_dirs, seed, out_dir
) -> None:
    """How often the speech rule answers NO_SPEECH to real speech, and hears speech in silence,
    noise and music; report.json in --out."""
    import json

    from models.datasets.corpora import default_corpora
    from models.speech_rule import speech_rule_report

    speech = _corpora(settings, "voice", data_dirs, data_list)
    music = [Path(d) for d in music_dirs] or default_corpora(settings.shared_data, "music")
    report = speech_rule_report(speech, music, seed=seed)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    for corpus, row in report["false_rejection"].items():
        calm = row["by_emotion"].get("calm", {}).get("rate")
        click.echo(
            f"NO_SPEECH on {corpus}: {100 * row['rate']:.1f} % of {row['clips']} (calm {100 * (calm or 0):.1f} %)"
        )
    for condition, row in report["false_rejection_in_noise"].items():
        click.echo(f"NO_SPEECH on {condition}: {100 * row['rate']:.1f} % of {row['clips']}")
    for kind, row in report["false_acceptance"].items():
        click.echo(f"speech heard in {kind}: {100 * row['rate']:.1f} % of {row['clips']}")
    click.echo(f"report: {Path(out_dir) / 'report.json'}")
