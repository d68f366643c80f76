"""Battle for Wesnoth's orchestral music: the real, unlabelled corpus of the demo and benchmarks.

Debian's ``wesnoth-1.16-music`` package (GPL-2+) holds 41 OGG tracks, about 128 minutes. It is
a system package listed in ``deploy/local/debian-packages-demo.txt``; ``make demo`` and
``make bench`` install it, nothing here does.
"""

from __future__ import annotations

from pathlib import Path

from models.exceptions import DatasetError

__all__ = ["WESNOTH_MUSIC", "WESNOTH_PACKAGE", "AUDIO_SUFFIXES", "audio_files", "wesnoth_music"]

WESNOTH_MUSIC = Path("/usr/share/games/wesnoth/1.16/data/core/music")
WESNOTH_PACKAGE = "wesnoth-1.16-music"
AUDIO_SUFFIXES = frozenset({".ogg", ".opus", ".flac", ".wav", ".mp3", ".m4a"})


def wesnoth_music() -> Path:
    """The folder of the wesnoth tracks.

    Raises
    ------
    DatasetError
        The package is not installed; the message says how to install it.
    """
    if WESNOTH_MUSIC.is_dir() and any(WESNOTH_MUSIC.glob("*.ogg")):
        return WESNOTH_MUSIC
    raise DatasetError(
        f"the demo corpus {WESNOTH_MUSIC} is missing: run `make demo-deps` "
        f"(or `apt-get install {WESNOTH_PACKAGE}`), or name a folder of audio instead"
    )


def audio_files(folder: Path, *, limit: int | None = None) -> list[Path]:
    """The audio files of ``folder`` by name (the first ``limit``).

    Raises
    ------
    DatasetError
        The folder holds no audio file.
    """
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)[:limit]
    if not files:
        raise DatasetError(f"no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) in {folder}")
    return files
