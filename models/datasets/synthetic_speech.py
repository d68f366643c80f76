"""Seeded synthetic emotional speech from espeak-ng, for tests and the demo.

Each emotion sets prosody through SSML (rate, pitch, pitch range, volume), after the acoustic
correlates of vocal emotion: angry fast, loud, high and wide; happy fast, high and wide but
less loud; sad slow, low, narrow and soft; calm a little slow, mid pitch, narrow. Several
espeak-ng voices play the speakers (the group column, so that splits are speaker-independent);
the seed picks sentences and jitters the prosody within each emotion's range.

espeak-ng is a Debian package that ``make install`` installs (``deploy/local/debian-packages.txt``).
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from models.datasets.corpora import mark_synthetic
from models.exceptions import DatasetError
from schemas.emotions import EMOTIONS

__all__ = ["VOICES", "SENTENCES", "speak", "write_synthetic_speech"]

VOICES = ("en-us+m3", "en-us+f3", "en-gb+m1", "en-gb+f2", "en-us+m7", "en-gb+f4")
SENTENCES = (
    "I did not expect to hear from you today",
    "The train leaves at seven in the evening",
    "Could you tell me what happened this morning",
    "We walked along the river until it got dark",
    "Please put the books back on the shelf",
    "There is something I need to tell you now",
    "The meeting has been moved to next week",
    "I found the keys under the kitchen table",
)

# (rate %, pitch % shift, range keyword, volume keyword), jittered per clip.
_PROSODY = {
    "angry": ((150, 175), (25, 45), "x-high", "x-loud"),
    "happy": ((125, 145), (35, 60), "high", "loud"),
    "sad": ((60, 75), (-45, -30), "x-low", "soft"),
    "calm": ((85, 95), (-10, 5), "low", "medium"),
}


def speak(
    text: str, *, voice: str, emotion: str, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """One clip of ``text`` spoken with ``emotion``'s prosody: (samples, sample rate)."""
    if shutil.which("espeak-ng") is None:
        raise DatasetError(
            "espeak-ng is not installed: run `make install` (Debian package espeak-ng)"
        )
    (rate_lo, rate_hi), (pitch_lo, pitch_hi), pitch_range, volume = _PROSODY[emotion]
    ssml = (
        f'<speak><prosody rate="{rng.integers(rate_lo, rate_hi + 1)}%" '
        f'pitch="{rng.integers(pitch_lo, pitch_hi + 1):+d}%" range="{pitch_range}" '
        f'volume="{volume}">{text}</prosody></speak>'
    )
    result = subprocess.run(
        ["espeak-ng", "-m", "-v", voice, "--stdout", ssml], capture_output=True, check=False
    )
    if result.returncode != 0 or not result.stdout:
        raise DatasetError(f"espeak-ng failed for voice {voice}: {result.stderr.decode().strip()}")
    y, sr = sf.read(io.BytesIO(result.stdout), dtype="float32")
    return y, sr


def write_synthetic_speech(
    out_dir: Path,
    *,
    clips_per_voice: int = 4,
    voices: tuple[str, ...] = VOICES,
    seed: int = 0,
    emotions: tuple[str, ...] = EMOTIONS,
) -> Path:
    """Write ``emotions x voices x clips_per_voice`` wav clips and ``labels.csv``
    (``path,emotion,speaker``); return the path of ``labels.csv``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for voice in voices:
        speaker = voice.replace("+", "-")
        for emotion in emotions:
            for k in range(clips_per_voice):
                text = SENTENCES[int(rng.integers(len(SENTENCES)))]
                y, sr = speak(text, voice=voice, emotion=emotion, rng=rng)
                name = f"{speaker}-{emotion}-{k:02d}.wav"
                sf.write(out_dir / name, y, sr)
                rows.append({"path": name, "emotion": emotion, "speaker": speaker})
    labels = out_dir / "labels.csv"
    with open(labels, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "emotion", "speaker"])
        writer.writeheader()
        writer.writerows(rows)
    mark_synthetic(out_dir)
    return labels
