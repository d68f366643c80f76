"""``moodstream``: the one command behind every job.

Each sub-command builds :class:`~streams.settings.Settings` from the environment once and
hands it to a ``run``-style function of the package that does the work; this module only
parses arguments and prints. Heavy imports (TensorFlow, Faust) happen inside the commands
so that ``moodstream --help`` and ``moodstream stack status`` answer at once.
"""

from __future__ import annotations

import json
import logging
import sys

import click

from streams.settings import Settings

__all__ = ["main", "cli"]


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # Client libraries log every connection at INFO; their warnings are what an operator needs.
    for noisy in ("kafka", "aiokafka", "urllib3", "gensim", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """moodstream: mood-aware music recommendation on Kafka, Faust and MinIO."""
    _configure_logging(verbose)
    ctx.obj = Settings.from_env()


# --------------------------------------------------------------------------- stack


@cli.group()
def stack() -> None:
    """Start, stop and inspect the local Kafka + MinIO stack (127.0.0.1)."""


def _print_status(rows) -> None:
    for row in rows:
        state = "healthy" if row.healthy else ("running, not answering" if row.pid else "stopped")
        rss = f"{row.rss_mb:.0f} MB" if row.rss_mb is not None else "-"
        pid = row.pid if row.pid is not None else "-"
        click.echo(
            f"{row.name:<6} {state:<22} {row.address:<16} pid {pid!s:<8} rss {rss:<8} {row.detail}"
        )


@stack.command("up")
@click.pass_obj
def stack_up_cmd(settings: Settings) -> None:
    """Build what is missing, start Kafka and MinIO, wait until both answer."""
    from deploy.exceptions import DeployError
    from deploy.local.stack import stack_up

    try:
        rows = stack_up(settings)
    except DeployError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_status(rows)


@stack.command("down")
@click.pass_obj
def stack_down_cmd(settings: Settings) -> None:
    """Stop the servers; their data stays under MOODSTREAM_HOME."""
    from deploy.local.stack import stack_down

    stopped = stack_down(settings)
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@stack.command("status")
@click.pass_obj
def stack_status_cmd(settings: Settings) -> None:
    """What runs where; exits 1 when a server is not healthy."""
    from deploy.local.stack import stack_status

    rows = stack_status(settings)
    _print_status(rows)
    if not all(row.healthy for row in rows):
        sys.exit(1)


# --------------------------------------------------------------------------- worker


@cli.command()
@click.option("--web-port", type=int, default=None, help="HTTP port (default MOODSTREAM_WEB_PORT).")
@click.option("--loglevel", default="info", show_default=True)
@click.pass_obj
def worker(settings: Settings, web_port: int | None, loglevel: str) -> None:
    """Run a Faust stream worker (agents, tables, HTTP API)."""
    from streams.app import run_worker

    if web_port is not None:
        settings = settings.replace(web_port=web_port)
    run_worker(settings, loglevel=loglevel)


_MODEL_OPTIONS = [
    click.option(
        "--data",
        "data_dir",
        required=True,
        type=click.Path(exists=True, file_okay=False),
        help="Folder with labels.csv.",
    ),
    click.option(
        "--group-col", default=None, help="Column that keeps clips of one song/speaker on one side."
    ),
    click.option("--seed", type=int, default=0, show_default=True),
    click.option(
        "--max-epochs",
        type=int,
        default=None,
        help="Early-stopping ceiling (default: the config's).",
    ),
    click.option("--batch-size", type=int, default=None, help="Default: the paper's 150."),
    click.option(
        "--patience", type=int, default=None, help="Early-stopping patience (default: 25 epochs)."
    ),
]


def _model_options(fn):
    for option in reversed(_MODEL_OPTIONS):
        fn = option(fn)
    return fn


def _overrides(max_epochs: int | None, batch_size: int | None, patience: int | None) -> dict:
    pairs = (("max_epochs", max_epochs), ("batch_size", batch_size), ("patience", patience))
    return {k: v for k, v in pairs if v is not None}


@cli.group()
def train() -> None:
    """Train a model and store it in the registry."""


@train.command("music")
@_model_options
@click.option(
    "--loss",
    type=click.Choice(["mse", "ce"]),
    default="mse",
    show_default=True,
    help="The paper's MSE, or cross-entropy.",
)
@click.option("--promote/--no-promote", default=False, help="Promote the new model for serving.")
@click.option(
    "--no-push", is_flag=True, help="Keep the model local; do not store it in the registry."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also keep the artefacts here.",
)
@click.pass_obj
def train_music(
    settings: Settings,
    data_dir,
    group_col,
    seed,
    max_epochs,
    batch_size,
    patience,
    loss,
    promote,
    no_push,
    out_dir,
) -> None:
    """Train the music emotion model (62-dim + attention + 2-layer LSTM) on a labelled folder."""
    from pathlib import Path

    from models.music_jobs import run_train_music
    from models.music_model import METHOD_CE, METHOD_MSE

    config = (METHOD_MSE if loss == "mse" else METHOD_CE).with_(
        **_overrides(max_epochs, batch_size, patience)
    )
    record, folder = run_train_music(
        settings, Path(data_dir), config=config, group_col=group_col, seed=seed,
        push=not no_push, promote=promote, out_dir=Path(out_dir) if out_dir else None,
    )  # fmt: skip
    click.echo(f"model artefacts: {folder}")
    if record:
        click.echo(
            f"stored as {record.version}{' (promoted)' if promote else ''}: {record.metrics}"
        )


@cli.group()
def evaluate() -> None:
    """Cross-validated evaluation beside the paper's tables."""


@evaluate.command("music")
@_model_options
@click.option("--folds", type=int, default=5, show_default=True)
@click.option(
    "--row",
    "row_keys",
    multiple=True,
    type=click.Choice(["baseline", "lstm", "att-lstm", "method", "method-ce"]),
    help="Evaluate only these Table 1 rows (repeatable; default: all). The SVM row always runs.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="artifacts/music-eval",
    show_default=True,
)
@click.pass_obj
def evaluate_music_cmd(
    settings: Settings,
    data_dir,
    group_col,
    seed,
    max_epochs,
    batch_size,
    patience,
    folds,
    row_keys,
    out_dir,
) -> None:
    """All Table 1 rows + an SVM reference, Table 2 confusion; report.json and PNGs in --out."""
    from pathlib import Path

    from models.evaluation import format_music_report
    from models.music_jobs import run_evaluate_music
    from models.music_model import ROWS_BY_KEY, TABLE1_ROWS

    rows = tuple(ROWS_BY_KEY[k] for k in row_keys) or TABLE1_ROWS
    report = run_evaluate_music(
        settings, Path(data_dir), folds=folds, group_col=group_col, out_dir=Path(out_dir),
        seed=seed, overrides=_overrides(max_epochs, batch_size, patience), rows=rows,
    )  # fmt: skip
    click.echo(format_music_report(report))
    click.echo(f"\nreport: {Path(out_dir) / 'report.json'}")


@train.command("voice")
@_model_options
@click.option("--promote/--no-promote", default=False, help="Promote the new model for serving.")
@click.option("--no-push", is_flag=True, help="Keep the model local; do not store it.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None)
@click.pass_obj
def train_voice(
    settings: Settings,
    data_dir,
    group_col,
    seed,
    max_epochs,
    batch_size,
    patience,
    promote,
    no_push,
    out_dir,
) -> None:
    """Train the dual-channel HSF + CRNN voice emotion model on a labelled folder."""
    from pathlib import Path

    from models.voice_jobs import run_train_voice
    from models.voice_model import VOICE_METHOD

    config = VOICE_METHOD.with_(**_overrides(max_epochs, batch_size, patience))
    record, folder = run_train_voice(
        settings, Path(data_dir), config=config, group_col=group_col, seed=seed,
        push=not no_push, promote=promote, out_dir=Path(out_dir) if out_dir else None,
    )  # fmt: skip
    click.echo(f"model artefacts: {folder}")
    if record:
        click.echo(
            f"stored as {record.version}{' (promoted)' if promote else ''}: {record.metrics}"
        )


@evaluate.command("voice")
@_model_options
@click.option("--folds", type=int, default=5, show_default=True)
@click.option(
    "--row",
    "row_keys",
    multiple=True,
    type=click.Choice(["crnn", "hsf-crnn", "method"]),
    help="Evaluate only these Table 3 rows (repeatable; default: all).",
)
@click.option(
    "--no-reference", is_flag=True, help="Skip the eGeMAPS + SVM reference row (needs opensmile)."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="artifacts/voice-eval",
    show_default=True,
)
@click.pass_obj
def evaluate_voice_cmd(
    settings: Settings,
    data_dir,
    group_col,
    seed,
    max_epochs,
    batch_size,
    patience,
    folds,
    row_keys,
    no_reference,
    out_dir,
) -> None:
    """Speaker-independent CV of the Table 3 rows (+ eGeMAPS/SVM); report.json and PNGs in --out."""
    from pathlib import Path

    from models.evaluation import format_music_report
    from models.voice_jobs import run_evaluate_voice
    from models.voice_model import TABLE3_ROWS, VOICE_ROWS_BY_KEY

    rows = tuple(VOICE_ROWS_BY_KEY[k] for k in row_keys) or TABLE3_ROWS
    report = run_evaluate_voice(
        settings, Path(data_dir), out_dir=Path(out_dir), folds=folds, group_col=group_col,
        seed=seed, overrides=_overrides(max_epochs, batch_size, patience), rows=rows,
        reference=not no_reference,
    )  # fmt: skip
    click.echo(format_music_report(report))
    click.echo(f"\nreport: {Path(out_dir) / 'report.json'}")


_THEME_OPTIONS = [
    click.option(
        "--data",
        "data_dir",
        required=True,
        type=click.Path(exists=True, file_okay=False),
        help="Folder with labels.csv.",
    ),
    click.option(
        "--topics", type=int, default=5, show_default=True, help="LDA topics per emotion."
    ),
    click.option(
        "--codewords", type=int, default=150, show_default=True, help="Codebook size cap."
    ),
    click.option("--seed", type=int, default=0, show_default=True),
]


def _theme_options(fn):
    for option in reversed(_THEME_OPTIONS):
        fn = option(fn)
    return fn


@train.command("themes")
@_theme_options
@click.option("--promote/--no-promote", default=False, help="Promote the new model for serving.")
@click.option("--no-push", is_flag=True, help="Keep the model local; do not store it.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None)
@click.pass_obj
def train_themes(
    settings: Settings, data_dir, topics, codewords, seed, promote, no_push, out_dir
) -> None:
    """Fit per-emotion codebooks and LDA theme models on a labelled folder."""
    from pathlib import Path

    from models.theme_jobs import run_train_themes
    from models.themes import ThemeConfig

    config = ThemeConfig(topics=topics, codewords=codewords, seed=seed)
    record, folder, _ = run_train_themes(
        settings, Path(data_dir), config=config, push=not no_push, promote=promote,
        out_dir=Path(out_dir) if out_dir else None,
    )  # fmt: skip
    click.echo(f"model files: {folder}")
    if record:
        click.echo(f"stored as {record.version}{' (promoted)' if promote else ''}")


@evaluate.command("themes")
@_theme_options
@click.option(
    "--truth-col", default=None, help="A labels.csv column of known themes: adds the ARI."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="artifacts/themes-eval",
    show_default=True,
)
@click.pass_obj
def evaluate_themes_cmd(
    settings: Settings, data_dir, topics, codewords, seed, truth_col, out_dir
) -> None:
    """Coherence, perplexity, sizes and stability of the themes per emotion; report.json + PNG."""
    from pathlib import Path

    from models.theme_jobs import format_themes_report, run_evaluate_themes
    from models.themes import ThemeConfig

    config = ThemeConfig(topics=topics, codewords=codewords, seed=seed)
    report = run_evaluate_themes(
        settings, Path(data_dir), out_dir=Path(out_dir), config=config, truth_col=truth_col
    )
    click.echo(format_themes_report(report))
    click.echo(f"\nreport: {Path(out_dir) / 'report.json'}")


@cli.group()
def models() -> None:
    """The model registry: list, show, promote."""


@models.command("list")
@click.argument("kind", required=False, type=click.Choice(["music", "themes", "voice"]))
@click.pass_obj
def models_list(settings: Settings, kind) -> None:
    """Stored models, oldest first; * marks the promoted ones."""
    from models.registry import ModelRegistry

    registry = ModelRegistry(settings)
    promoted = {k: registry.promoted_version(k) for k in ("music", "themes", "voice")}
    for record in registry.list(kind):
        mark = "*" if promoted.get(record.kind) == record.version else " "
        click.echo(
            f"{mark} {record.version:<40} {record.created_at}  {record.feature_spec}  {json.dumps(record.metrics)}"
        )


@models.command("show")
@click.argument("kind", type=click.Choice(["music", "themes", "voice"]))
@click.argument("version")
@click.pass_obj
def models_show(settings: Settings, kind, version) -> None:
    """A model's metadata as JSON."""
    from models.exceptions import ModelsError
    from models.registry import ModelRegistry

    try:
        click.echo(ModelRegistry(settings).show(kind, version).to_json())
    except ModelsError as exc:
        raise click.ClickException(str(exc)) from exc


@models.command("promote")
@click.argument("kind", type=click.Choice(["music", "themes", "voice"]))
@click.argument("version")
@click.pass_obj
def models_promote(settings: Settings, kind, version) -> None:
    """Make VERSION the model that workers serve."""
    from models.exceptions import ModelsError
    from models.registry import ModelRegistry

    try:
        ModelRegistry(settings).promote(kind, version)
    except ModelsError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"promoted {version}")


@cli.group()
def bench() -> None:
    """Benchmarks: scripts that print speed and memory figures."""


@bench.command("features")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--limit", type=int, default=None, help="Only the first N files.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(["moodstream", "librosa_reference", "opensmile_egemaps"]),
    help="Run only these implementations (default: all three).",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Runs of each implementation; each file counts with its cheapest run.",
)
def bench_features(
    directory: str | None, limit: int | None, as_json: bool, only: tuple[str, ...], rounds: int
) -> None:
    """Real-time factor per core, peak memory and agreement of the music feature extractors."""
    import json
    from pathlib import Path

    from benchmarks.features import IMPLEMENTATIONS, format_report, run_features_bench

    log = (lambda msg: click.echo(msg, err=True)) if as_json else click.echo
    report = run_features_bench(
        Path(directory) if directory else None,
        limit=limit,
        implementations=only or IMPLEMENTATIONS,
        rounds=rounds,
        log=log,
    )
    click.echo(json.dumps(report) if as_json else format_report(report))


@bench.command("formants")
@click.argument("directory", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--limit", type=int, default=8, show_default=True, help="Only the first N files.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def bench_formants(directory: str | None, limit: int, as_json: bool) -> None:
    """Time, agreement and vowel error of the two LPC root finders for formants."""
    import json
    from pathlib import Path

    from benchmarks.features import corpus_files, ensure_default_corpus
    from benchmarks.formant_roots import format_report, run_formant_roots_bench

    log = (lambda msg: click.echo(msg, err=True)) if as_json else click.echo
    corpus = Path(directory) if directory else ensure_default_corpus(log)
    files = corpus_files(corpus, limit=limit)
    report = run_formant_roots_bench(files, log=log)
    click.echo(json.dumps(report) if as_json else format_report(report))


@bench.command("music")
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A .keras file (default: a fresh network of the method's shape).",
)
@click.option("--repeats", type=int, default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def bench_music(model_path: str | None, repeats: int, as_json: bool) -> None:
    """Serving latency (4-minute track, one core) and batched throughput of the music model."""
    import json
    from pathlib import Path

    from benchmarks.music_model import format_report, run_music_bench

    report = run_music_bench(model_path=Path(model_path) if model_path else None, repeats=repeats)
    click.echo(json.dumps(report) if as_json else format_report(report))


@bench.command("crawl")
@click.option("--tracks", type=int, default=40, show_default=True)
@click.option(
    "--seconds", type=float, default=10.0, show_default=True, help="Length of each track."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.pass_obj
def bench_crawl(settings: Settings, tracks: int, seconds: float, as_json: bool) -> None:
    """Crawler throughput (tracks/s) against the local site at concurrency 1, 4 and 16."""
    import json

    from benchmarks.crawl import format_report, run_crawl_bench

    report = run_crawl_bench(settings, tracks=tracks, seconds=seconds)
    click.echo(json.dumps(report) if as_json else format_report(report))


@bench.command("pipeline")
@click.option("--tracks", type=int, default=60, show_default=True)
@click.option("--rate", type=float, default=10.0, show_default=True, help="Clips per second.")
@click.option("--seconds", type=float, default=20.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.pass_obj
def bench_pipeline(
    settings: Settings, tracks: int, rate: float, seconds: float, as_json: bool
) -> None:
    """Ingest throughput and clip -> recommendation latency with one worker (after make demo)."""
    import json

    from benchmarks.pipeline import format_report, run_pipeline_bench

    log = (lambda msg: click.echo(msg, err=True)) if as_json else click.echo
    report = run_pipeline_bench(settings, tracks=tracks, rate=rate, seconds=seconds, log=log)
    click.echo(json.dumps(report) if as_json else format_report(report))


@bench.command("voice")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--repeats", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def bench_voice(model_path: str | None, repeats: int, as_json: bool) -> None:
    """Voice clip -> emotion latency on one core (5 s clip, decode and features included)."""
    import json
    from pathlib import Path

    from benchmarks.voice_model import format_report, run_voice_bench

    report = run_voice_bench(model_path=Path(model_path) if model_path else None, repeats=repeats)
    click.echo(json.dumps(report) if as_json else format_report(report))


def _parse_interval(text: str | None) -> float | None:
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, KeyError):
        raise click.BadParameter(f"{text!r}: use e.g. 30s, 10m or 1h") from None


@cli.command()
@click.option("--site", "site_file", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--every", default=None, help="Crawl again after this interval (30s, 10m, 1h).")
@click.option("--host", default=None, help="Serve the profile's site from this host:port instead.")
@click.pass_obj
def crawl(settings: Settings, site_file: str, every: str | None, host: str | None) -> None:
    """Fetch new music from one site into MinIO and Kafka (one pass, or every INTERVAL)."""
    import asyncio
    import json
    import time

    from tqdm import tqdm

    from crawler.crawl import Crawler
    from crawler.profile import ProfileError, load_profile

    try:
        profile = load_profile(site_file)
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from exc
    if host:
        profile = profile.on_host(host)
    interval = _parse_interval(every)
    from streams.topics import ensure_topics

    ensure_topics(settings)
    while True:
        with tqdm(desc=f"crawl {profile.name}", unit="track") as bar:
            counters = asyncio.run(Crawler(profile, settings, progress=bar.update).run())
        click.echo(json.dumps({"site": profile.name, **counters.to_dict()}))
        if interval is None:
            return
        time.sleep(interval)


@cli.command()
@click.argument("clip", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "user_id", required=True, help="The listener's id.")
@click.option("--timeout", type=float, default=30.0, show_default=True)
@click.pass_obj
def submit(settings: Settings, clip: str, user_id: str, timeout: float) -> None:
    """Send a voice clip to Kafka and print the recommendation that answers it."""
    import json
    from pathlib import Path

    from streams.client import MoodstreamClient, NoAnswerError

    with MoodstreamClient(settings) as client:
        request_id = client.submit_clip(user_id, Path(clip).read_bytes())
        try:
            answer = client.wait_for_recommendation(request_id, timeout_s=timeout)
        except NoAnswerError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(answer, indent=2, default=str))


@cli.group()
def site() -> None:
    """The local music site (tests, benchmarks, demo)."""


@site.command("serve")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--port", type=int, default=8701, show_default=True)
@click.option("--error-rate", type=float, default=0.0, help="Share of answers that are 500s.")
@click.option("--truncate-rate", type=float, default=0.0, help="Share of bodies cut short.")
def site_serve(folder: str, port: int, error_rate: float, truncate_rate: float) -> None:
    """Serve FOLDER's audio as the alpha and beta sites on 127.0.0.1:PORT."""
    import asyncio
    from pathlib import Path

    from crawler.testsite import Faults, MusicSite

    async def serve() -> None:
        site_ = MusicSite(
            Path(folder), faults=Faults(error_rate=error_rate, truncate_rate=truncate_rate)
        )
        await site_.start(port)
        click.echo(f"serving {folder} on http://127.0.0.1:{port}/alpha/new and /beta/latest")
        await asyncio.Event().wait()

    asyncio.run(serve())


@cli.group()
def synth() -> None:
    """Seeded synthetic labelled audio, for tests and demos when no real data is at hand."""


@synth.command("speech")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option(
    "--per-voice", type=int, default=4, show_default=True, help="Clips per emotion and voice."
)
@click.option("--seed", type=int, default=0, show_default=True)
def synth_speech(out_dir: str, per_voice: int, seed: int) -> None:
    """Write espeak-ng emotional speech (4 emotions x 6 voices x N) and labels.csv into OUT_DIR."""
    from pathlib import Path

    from models.datasets.synthetic_speech import write_synthetic_speech

    click.echo(
        f"wrote {write_synthetic_speech(Path(out_dir), clips_per_voice=per_voice, seed=seed)}"
    )


@synth.command("music")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--per-substyle", type=int, default=4, show_default=True)
@click.option("--seconds", type=float, default=20.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def synth_music(out_dir: str, per_substyle: int, seconds: float, seed: int) -> None:
    """Write 4 emotions x 3 sub-styles x N tracks and their labels.csv into OUT_DIR."""
    from pathlib import Path

    from models.datasets.synthetic_music import write_synthetic_music

    labels = write_synthetic_music(
        Path(out_dir), tracks_per_substyle=per_substyle, seconds=seconds, seed=seed
    )
    click.echo(f"wrote {labels}")


@cli.command()
@click.pass_obj
def demo(settings: Settings) -> None:
    """Run the main job on the local stack and print what happened."""
    from streams.demo import run_demo

    run_demo(settings)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="moodstream")


if __name__ == "__main__":
    main()
