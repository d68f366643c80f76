"""A straightforward librosa implementation of the 62 music features: the benchmark's reference.

Written the way a newcomer would: ``librosa.load``, ``librosa.feature.mfcc``, ``librosa.yin``,
``librosa.lpc`` and ``np.roots`` frame by frame, ``librosa.onset.onset_strength`` and
``librosa.autocorrelate`` per segment. It follows the same layout and the same documented choices
as :mod:`models.features.music` where librosa allows; where it differs on purpose:

- MFCCs come from librosa's own mel filterbank (Slaney) and orthonormal DCT-II, with c0 dropped;
- pitch is ``librosa.yin`` (frame 2048 at 22 050 Hz, its own voicing-free output, so every frame
  counts: there is no unvoiced rule) and silent frames are dropped by level only;
- beat histograms use ``librosa.onset.onset_strength`` (its own mel spectrogram and aggregation).
"""

from __future__ import annotations

import librosa
import numpy as np

__all__ = ["reference_decode", "reference_features", "reference_segment_features"]

_SR = 22050
_SEG = 3.0


def _segment_stats(values: np.ndarray) -> tuple[float, ...]:
    if values.size == 0:
        return (0.0,) * 8
    return (
        float(values.max()),
        float(values.min()),
        float(values.mean()),
        float(values.max() - values.min()),
        float(values.std()),
        float(np.median(values)),
        float(np.percentile(values, 75)),
        float(np.percentile(values, 25)),
    )


def _formants_of_frame(frame: np.ndarray, sr: int) -> tuple[list[float], list[float]]:
    if np.sqrt(np.mean(frame**2)) < 1e-3:
        return [], []
    emphasized = np.append(frame[0], frame[1:] - 0.9 * frame[:-1]) * np.hamming(frame.size)
    try:
        a = librosa.lpc(emphasized, order=14)
    except (FloatingPointError, ValueError):
        return [], []
    roots = [r for r in np.roots(a) if np.imag(r) > 0]
    cands = []
    for r in roots:
        f = np.angle(r) * sr / (2 * np.pi)
        bw = -sr / np.pi * np.log(np.abs(r))
        if 90 < f < 5000 and bw < 400:
            cands.append((f, bw))
    cands.sort()
    return [c[0] for c in cands[:3]], [c[1] for c in cands[:3]]


def reference_decode(path: str) -> np.ndarray:
    """``librosa.load`` at 22 050 Hz, mono."""
    y, _ = librosa.load(path, sr=_SR, mono=True)
    return y


def reference_segment_features(path: str) -> np.ndarray:
    """(n_segments, 62) features of the audio file at ``path``, computed the plain librosa way."""
    return reference_features(reference_decode(path))


def reference_features(y: np.ndarray) -> np.ndarray:
    """(n_segments, 62) features of a 22 050 Hz mono signal, computed the plain librosa way."""
    sr = _SR
    y = y - y.mean()
    seg_len = int(_SEG * sr)
    n_full = len(y) // seg_len
    n_seg = n_full + 1 if (n_full == 0 or (len(y) - n_full * seg_len) >= seg_len / 2) else n_full
    rows = []
    for s in range(n_seg):
        seg = y[s * seg_len : (s + 1) * seg_len]
        if seg.size < 2048:
            seg = np.pad(seg, (0, 2048 - seg.size))
        mfcc = librosa.feature.mfcc(y=seg, sr=sr, n_mfcc=15, n_fft=512, hop_length=256, n_mels=40)[
            1:
        ]
        delta = librosa.feature.delta(mfcc, width=5)
        f0 = librosa.yin(seg, fmin=60, fmax=1000, sr=sr, frame_length=2048, hop_length=512)
        rms = librosa.feature.rms(y=seg, frame_length=2048, hop_length=512)[0]
        f0 = f0[: rms.size][rms[: f0.size] > 1e-3]
        low = librosa.resample(seg, orig_sr=sr, target_sr=11025)
        freqs: list[list[float]] = [[], [], []]
        bws: list[list[float]] = [[], [], []]
        for start in range(0, max(low.size - 512, 0) + 1, 512):
            fs, bs = _formants_of_frame(low[start : start + 512].astype(np.float64), 11025)
            for k in range(len(fs)):
                freqs[k].append(fs[k])
                bws[k].append(bs[k])
        formant = []
        for k in range(3):
            f = np.array(freqs[k])
            b = np.array(bws[k])
            formant += [f.mean(), f.std(), np.median(f), b.mean()] if f.size else [0.0] * 4
        power = np.abs(librosa.stft(seg, n_fft=512, hop_length=256)) ** 2
        bin_freqs = librosa.fft_frequencies(sr=sr, n_fft=512)
        bands = []
        for b in range(8):
            sel = (bin_freqs >= 500 * b) & (bin_freqs < 500 * (b + 1))
            bands.append(10 * np.log10(power[sel].sum(axis=0).mean() + 1e-10))
        onset = librosa.onset.onset_strength(y=seg, sr=sr, hop_length=256)
        ac = librosa.autocorrelate(onset - onset.mean())
        ac = ac / ac[0] if ac[0] > 0 else np.zeros_like(ac)
        lo, hi = int(0.25 * sr / 256), min(int(1.5 * sr / 256), ac.size - 2)
        peaks = [
            i for i in range(lo, hi + 1) if ac[i] > ac[i - 1] and ac[i] >= ac[i + 1] and ac[i] > 0
        ]
        peaks.sort(key=lambda i: ac[i], reverse=True)
        a1, p1 = (ac[peaks[0]], peaks[0] * 256 / sr) if peaks else (0.0, 0.0)
        a2, p2 = (ac[peaks[1]], peaks[1] * 256 / sr) if len(peaks) > 1 else (0.0, 0.0)
        total = float(np.maximum(ac[lo : hi + 1], 0).sum()) if hi > lo else 0.0
        rhythm = [a1, p1, a2, p2, a2 / a1 if a1 > 0 else 0.0, total]
        rows.append(
            np.concatenate(
                [
                    mfcc.mean(axis=1),
                    np.abs(delta).mean(axis=1),
                    _segment_stats(f0),
                    formant,
                    bands,
                    rhythm,
                ]
            )
        )
    return np.nan_to_num(np.array(rows, dtype=np.float32))
