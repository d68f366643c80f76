"""Several labelled folders (corpora) read as one set: what a served model trains on, and what
leave-one-corpus-out evaluation splits by.

A model that scores well inside one corpus can be near chance on another (a music head trained
on EMOPIA's solo piano reads commercial music at 27 %), so served models train on every real
corpus there is (:func:`default_corpora`) and are judged across corpora.

Groups stay apart across corpora: a clip's group becomes ``<namespace>:<group>``, where the
namespace is the folder name up to its first ``_``. Folders of one source therefore share
their groups: RAVDESS song (``ravdess_song``) and speech (``ravdess_speech_dev``) are sung and
spoken by the same actors (``actor01`` ...), who stay on one side of every split, while
EmoDB's speaker ``03`` and another corpus's ``03`` are different people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

from models.datasets.labelled import LabelledClip, read_labelled_folder
from models.exceptions import DatasetError

__all__ = [
    "Task",
    "REAL_CORPORA",
    "as_folders",
    "data_paths",
    "group_namespace",
    "read_corpora",
    "read_dataset_list",
    "default_corpora",
    "SYNTHETIC_MARK",
    "mark_synthetic",
    "is_synthetic",
    "describe_corpora",
    "hold_out_groups",
]

Task = Literal["music", "voice"]

#: The real corpora each task trains on when they are present (../shared/data/README.md).
REAL_CORPORA: dict[str, tuple[str, ...]] = {
    "music": ("emopia", "q4_dev"),
    "voice": ("ravdess_song", "emodb", "ravdess_speech_dev"),
}


def group_namespace(folder: Path) -> str:
    """The namespace of a folder's groups: its name up to the first ``_``, lower case."""
    return Path(folder).name.split("_", 1)[0].lower()


def as_folders(data: Path | Sequence[Path]) -> list[Path]:
    """``data`` (one labelled folder or several) as a list of folders."""
    return [Path(data)] if isinstance(data, str | Path) else [Path(d) for d in data]


def data_paths(data: Path | Sequence[Path]) -> list[str]:
    """The folders of ``data`` as text, as reports and ``training.json`` record them."""
    return [str(folder) for folder in as_folders(data)]


def read_corpora(folders: Sequence[Path], *, group_col: str | None = None) -> list[LabelledClip]:
    """The clips of every folder in ``folders``, each with its ``corpus`` (the folder's name)
    and its group namespaced (module docstring).

    Raises
    ------
    DatasetError
        No folder, two folders of one name, or what :func:`read_labelled_folder` raises.
    """
    if not folders:
        raise DatasetError("no labelled folder given (--data FOLDER, repeatable)")
    names = [Path(f).name for f in folders]
    if len(set(names)) != len(names):
        raise DatasetError(f"two corpora share a folder name: {sorted(names)}")
    clips: list[LabelledClip] = []
    for folder in folders:
        namespace = group_namespace(folder)
        for clip in read_labelled_folder(Path(folder), group_col=group_col):
            clips.append(replace(clip, group=f"{namespace}:{clip.group}", corpus=Path(folder).name))
    return clips


def read_dataset_list(path: Path) -> list[Path]:
    """The folders a dataset list file names, one per line (relative to the file's folder;
    blank lines and ``#`` comments ignored)."""
    path = Path(path)
    folders = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            folder = Path(line) if Path(line).is_absolute() else path.parent / line
            folders.append(folder)
    if not folders:
        raise DatasetError(f"{path} names no folder")
    return folders


#: The file that marks a folder written by one of moodstream's synthetic generators.
SYNTHETIC_MARK = "SYNTHETIC"


def mark_synthetic(folder: Path) -> None:
    """Mark ``folder`` as synthetic (its generator calls this): a model trained on nothing
    else has never heard real audio, and says so."""
    (Path(folder) / SYNTHETIC_MARK).write_text(
        "Written by a moodstream synthetic generator: not real, human-labelled audio.\n"
    )


def is_synthetic(folder: Path) -> bool:
    """Whether ``folder`` was written by a synthetic generator (:func:`mark_synthetic`)."""
    return (Path(folder) / SYNTHETIC_MARK).is_file()


def describe_corpora(folders: Sequence[Path], clips: Sequence[LabelledClip]) -> dict:
    """What a model trained on: per corpus its clips and whether it is synthetic, and whether
    every one is (``synthetic_only``). Stored with the model and shown by the demo and /health."""
    counts = {Path(f).name: 0 for f in folders}
    for clip in clips:
        counts[clip.corpus] = counts.get(clip.corpus, 0) + 1
    synthetic = {Path(f).name: is_synthetic(Path(f)) for f in folders}
    return {
        "corpora": {
            name: {"clips": n, "synthetic": synthetic.get(name, False)}
            for name, n in counts.items()
        },
        "synthetic_only": all(synthetic.values()),
    }


def hold_out_groups(
    folders: Sequence[Path], held_out: set[str], out_root: Path
) -> tuple[list[Path], list[LabelledClip]]:
    """Copies of ``folders``' labels without the clips of the ``held_out`` groups (namespaced,
    e.g. ``ravdess:actor12``), written under ``out_root`` with the folders' own names (their
    namespaces unchanged) and absolute audio paths; and the held-out clips. The demo trains on
    the copies and lets listeners speak with voices the served model never heard."""
    import csv

    training, held = [], []
    for folder in folders:
        folder = Path(folder)
        clips = {c.path: c for c in read_corpora([folder])}
        with open(folder / "labels.csv", newline="") as f:
            reader = csv.DictReader(f)
            columns, rows = reader.fieldnames or [], list(reader)
        kept = []
        for row in rows:
            clip = clips[folder / row["path"]]
            if clip.group in held_out:
                held.append(clip)
            else:
                kept.append({**row, "path": str((folder / row["path"]).resolve())})
        copy = Path(out_root) / folder.name
        copy.mkdir(parents=True, exist_ok=True)
        with open(copy / "labels.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(kept)
        if is_synthetic(folder):
            mark_synthetic(copy)
        if kept:
            training.append(copy)
    return training, held


def default_corpora(root: Path, task: Task) -> list[Path]:
    """The real corpora of ``task`` present under ``root`` (those with a labels.csv)."""
    return [
        Path(root) / name
        for name in REAL_CORPORA[task]
        if (Path(root) / name / "labels.csv").is_file()
    ]
