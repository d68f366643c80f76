"""``moodstream bench voice``: voice clip -> emotion latency on one core, features included.

The clip is a 5 s espeak-ng sentence (synthetic speech, so it runs anywhere); the model is the
given ``.keras`` (a network) or ``head.npz`` (a functionals candidate) file, or a fresh model of
the ``kind`` asked for: ``champion`` (the served default's shape: listener-normalised HSF
functionals and voice-quality descriptors into three averaged one-layer networks, with a
20-clip listener history) or ``network`` (the paper's method). Latency does not depend
on the weights. Decoding (WAV bytes), the speech rule, both channels' inputs and inference are
all inside the measured call, as in the recommender's path.
"""

from __future__ import annotations

import io
import resource
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.tf_threads import pin_tensorflow_to_one_thread
from models.features.voice import analyse_clip
from models.voice import VoiceEmotionClassifier
from models.voice_model import VOICE_METHOD, build_voice_model

#: The serving budget of a voice clip (issues 17 and 28): p50 of the whole call, one thread.
TARGET_P50_MS = 30.0

__all__ = ["run_voice_bench", "format_report"]


def _clip_bytes(seconds: float = 5.0) -> bytes:
    from models.datasets.synthetic_speech import SENTENCES, speak

    rng = np.random.default_rng(0)
    parts, sr = [], 22050
    while sum(p.size for p in parts) < seconds * sr:
        y, sr = speak(
            SENTENCES[len(parts) % len(SENTENCES)], voice="en-us+f3", emotion="happy", rng=rng
        )
        parts.append(y)
    y = np.concatenate(parts)[: int(seconds * sr)]
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV")
    return buf.getvalue()


def _classifier(model_path: Path | None, kind: str):
    """The classifier to time and the listener history it is given."""
    from models.voice import FunctionalsVoiceClassifier
    from models.voice_candidates import N_FUNCTIONALS, VoiceHead

    rng = np.random.default_rng(0)
    history = {"n": 20, "sum": list(rng.normal(size=N_FUNCTIONALS) * 20)}
    if model_path is not None and model_path.suffix == ".npz":
        return FunctionalsVoiceClassifier(
            VoiceHead.load(model_path), version=str(model_path)
        ), history
    if model_path is not None:
        return VoiceEmotionClassifier.load(model_path), None
    if kind == "champion":  # the served head's shape: 3 averaged networks of 128 units
        from models.voice_mlp import MLP_HIDDEN, MLP_MEMBERS

        k, h = MLP_MEMBERS, MLP_HIDDEN
        head = VoiceHead(
            mean=np.zeros(N_FUNCTIONALS), scale=np.ones(N_FUNCTIONALS),
            hidden_weights=rng.normal(size=(k, N_FUNCTIONALS, h)) * 0.05,
            hidden_bias=np.zeros((k, h)), coef=rng.normal(size=(k, h, 4)) * 0.05,
            intercept=np.zeros((k, 4)), temperature=0.8, listener_normalised=True,
        )  # fmt: skip
        return FunctionalsVoiceClassifier(head, version="untrained-champion-bench"), history
    model = build_voice_model(
        VOICE_METHOD, hsf_mean=np.zeros(172), hsf_std=np.ones(172), spec_mean=-60.0, spec_std=20.0
    )
    return VoiceEmotionClassifier(model, version="untrained-network-bench"), None


def run_voice_bench(
    *, model_path: Path | None = None, kind: str = "champion", repeats: int = 100
) -> dict:
    """p50/p90/p99 of ``classify`` on a 5 s clip, and its parts."""
    from models.audio import load_audio

    one_thread = pin_tensorflow_to_one_thread()
    classifier, history = _classifier(model_path, kind)
    clip = _clip_bytes()
    t0 = time.perf_counter()
    answer = classifier.classify(clip, history=history)
    first_ms = 1000 * (time.perf_counter() - t0)
    for _ in range(5):
        classifier.classify(clip, history=history)
    total, decode, features, head = [], [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        classifier.classify(clip, history=history)
        total.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        y = load_audio(clip, sr=16000)
        t1 = time.perf_counter()
        analyse_clip(y=y, sr=16000)
        t2 = time.perf_counter()
        decode.append(t1 - t0)
        features.append(t2 - t1)
        reading = classifier.read(clip)
        t0 = time.perf_counter()
        classifier.answer(reading, history=history)
        head.append(time.perf_counter() - t0)

    def pct(values, q):
        return round(1000 * float(np.percentile(values, q)), 2)

    return {
        "model": str(model_path) if model_path else classifier.version,
        "clip_seconds": 5.0,
        "threads": 1 if one_thread else None,  # None: TensorFlow's defaults (see tf_threads)
        "has_speech": answer.has_speech,
        "first_call_ms": round(first_ms, 1),
        "latency_ms": {"p50": pct(total, 50), "p90": pct(total, 90), "p99": pct(total, 99)},
        "decode_ms_p50": pct(decode, 50),
        "features_ms_p50": pct(features, 50),
        "model_ms_p50": pct(head, 50),
        "target_p50_ms": TARGET_P50_MS,
        "traces": (
            int(classifier._predict.experimental_get_tracing_count())
            if hasattr(classifier, "_predict")
            else None
        ),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def format_report(report: dict) -> str:
    """A human-readable summary of :func:`run_voice_bench`."""
    lat = report["latency_ms"]
    return "\n".join(
        [
            f"voice emotion ({report['model']}), one thread, a {report['clip_seconds']:.0f} s clip, features included",
            f"  latency  p50 {lat['p50']:.1f} ms  p90 {lat['p90']:.1f} ms  p99 {lat['p99']:.1f} ms"
            f"  (target p50 <= {report['target_p50_ms']:.0f} ms; first call {report['first_call_ms']} ms)",
            f"  of which: decode {report['decode_ms_p50']} ms, speech rule + features "
            f"{report['features_ms_p50']} ms, model {report['model_ms_p50']} ms",
            f"  tf.function traces: {report['traces'] if report['traces'] is not None else '-'}"
            f"  peak RSS {report['peak_rss_mb']} MB",
        ]
    )
