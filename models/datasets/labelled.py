"""Labelled audio folders: ``labels.csv`` with ``path,emotion[,group...]`` beside the audio."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from models.exceptions import DatasetError
from schemas.emotions import EMOTIONS

__all__ = ["GROUP_COLUMNS", "LabelledClip", "read_labelled_folder", "dataset_fingerprint"]

#: Columns that name a clip's group (its song, artist or speaker), in the order they are looked
#: for when no group column is named: the development sets use ``song_id``, ``artist`` and
#: ``speaker`` (../shared/data/README.md).
GROUP_COLUMNS = ("group", "speaker", "artist", "song_id")


@dataclass(frozen=True)
class LabelledClip:
    """One clip of a labelled folder."""

    path: Path
    emotion: str
    group: str
    extra: dict
    corpus: str = ""
    """The folder (corpus) the clip came from; "" for a single folder read alone."""


def read_labelled_folder(data_dir: Path, *, group_col: str | None = None) -> list[LabelledClip]:
    """Read ``data_dir/labels.csv``.

    ``group_col`` names the column that keeps clips of one song or speaker together in splits;
    without it, the first of :data:`GROUP_COLUMNS` the file has is used, else every clip is its
    own group.

    Raises
    ------
    DatasetError
        No labels.csv, a missing column, an emotion outside sad/happy/angry/calm, or a path
        that does not exist.
    """
    data_dir = Path(data_dir)
    labels = data_dir / "labels.csv"
    if not labels.is_file():
        raise DatasetError(f"{data_dir} has no labels.csv (columns: path,emotion[,group])")
    with open(labels, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        for needed in ("path", "emotion"):
            if needed not in columns:
                raise DatasetError(
                    f"{labels} has no {needed!r} column (it has: {', '.join(columns)})"
                )
        if group_col is not None and group_col not in columns:
            raise DatasetError(
                f"{labels} has no group column {group_col!r} (it has: {', '.join(columns)})"
            )
        column = group_col or next((c for c in GROUP_COLUMNS if c in columns), None)
        clips = []
        for line, row in enumerate(reader, start=2):
            emotion = row["emotion"].strip().lower()
            if emotion not in EMOTIONS:
                raise DatasetError(
                    f"{labels}:{line}: emotion {row['emotion']!r} is not one of {', '.join(EMOTIONS)}"
                )
            path = data_dir / row["path"]
            if not path.is_file():
                raise DatasetError(f"{labels}:{line}: {path} does not exist")
            group = row[column] if column else row["path"]
            extra = {k: v for k, v in row.items() if k not in ("path", "emotion")}
            clips.append(LabelledClip(path=path, emotion=emotion, group=str(group), extra=extra))
    if not clips:
        raise DatasetError(f"{labels} lists no clips")
    return clips


def dataset_fingerprint(clips: list[LabelledClip], file_hashes: list[str]) -> str:
    """SHA-256 over the (audio hash, label) pairs: what a model was trained on."""
    digest = hashlib.sha256()
    for file_hash, clip in sorted(zip(file_hashes, clips, strict=True), key=lambda pair: pair[0]):
        digest.update(f"{file_hash}:{clip.emotion}\n".encode())
    return digest.hexdigest()
