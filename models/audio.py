"""Decoding: any supported container, any rate, mono or stereo -> mono float32 at one rate.

Decoding and resampling happen here, once, at the edge; feature functions take ``y`` and ``sr``.
Two decoders, each where it is fastest:

- **libsndfile** (``soundfile``) for WAV, FLAC and AIFF: it opens a short clip far faster than
  FFmpeg opens a container, and voice clips arrive as WAV.
- **FFmpeg** (PyAV) for the other containers of :data:`SUPPORTED_FORMATS`: OGG Vorbis/Opus,
  MP3, M4A/AAC (MP4), WebM/Matroska, ADTS AAC. The container is recognised from its first bytes
  and FFmpeg is told which demuxer to use: it never probes. Probing would let a 100-byte SDP
  file open an RTP socket, an ``ffconcat`` or HLS playlist open files or URLs, and a caller
  tell from the errors which files exist (issue 27); and no protocol is allowed for nested
  opens. Its Vorbis decoder is faster than libsndfile's libvorbis,
  and decoding is a large part of the cost of a track's features (figures: docs/features.md). Codec frames are
  joined in FFmpeg's FIFO before numpy sees them. A WAV that libsndfile cannot read (an unusual
  codec inside) is handed to FFmpeg too.

Resampling uses soxr (high quality). Every failure is an :class:`AudioDecodeError` whose message
says what was wrong with the input.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

from models.exceptions import AudioDecodeError, AudioTooLongError, FeatureParameterError

__all__ = [
    "load_audio",
    "container_format",
    "stated_duration_s",
    "validate_audio",
    "AudioSource",
    "SUPPORTED_FORMATS",
]

logger = logging.getLogger(__name__)

AudioSource = str | Path | bytes | bytearray | memoryview

#: Named in error messages: the containers decoded (:func:`container_format`), nothing else.
SUPPORTED_FORMATS = "WAV, FLAC, AIFF, OGG Vorbis/Opus, MP3, M4A/AAC, WebM/Matroska"
#: FFmpeg demuxer per recognised container: an allow-list, checked in order on the first bytes.
_FFMPEG_DEMUXERS: tuple[tuple[Callable[[bytes], bool], str], ...] = (
    (lambda h: h[:4] == b"OggS", "ogg"),
    (lambda h: h[:4] == b"fLaC", "flac"),
    (lambda h: h[:4] in (b"RIFF", b"RF64") and h[8:12] == b"WAVE", "wav"),
    (lambda h: h[:4] == b"FORM" and h[8:12] in (b"AIFF", b"AIFC"), "aiff"),
    (lambda h: h[4:8] == b"ftyp", "mov"),  # MP4 / M4A
    (lambda h: h[:4] == b"\x1a\x45\xdf\xa3", "matroska"),  # WebM (browsers' recordings)
    (lambda h: h[:3] == b"ID3" or (h[:1] == b"\xff" and len(h) > 1 and h[1] & 0xE6 == 0xE2), "mp3"),
    (lambda h: h[:1] == b"\xff" and len(h) > 1 and h[1] & 0xF6 == 0xF0, "aac"),  # ADTS
)
#: FFmpeg's protocols allowed for nested opens: none (a name no protocol has). The top-level
#: input is read from memory or opened as a file, never through a protocol lookup.
_NO_PROTOCOLS = "none"
#: Fewer samples than this after decoding means there is no usable audio (about 3 ms at 16 kHz).
_MIN_SAMPLES = 48
#: Samples per block handed to the resampler (about 1.5 s at 44.1 kHz).
_BLOCK_SAMPLES = 65536
#: First four bytes of the containers libsndfile decodes (WAV, RF64, FLAC, AIFF).
_LIBSNDFILE_MAGIC = (b"RIFF", b"RF64", b"fLaC", b"FORM")
#: libsndfile's frame count for a stream that does not state its length (a FLAC written by a
#: streaming encoder has 0 total samples; libsndfile reports SF_COUNT_MAX): unknown, not long.
_UNKNOWN_FRAMES = 2**62
#: FFmpeg sample formats (planar or packed) -> numpy dtype, scale to [-1, 1] and offset.
_SAMPLE_FORMATS: dict[str, tuple[type, float, float]] = {
    "u8": (np.uint8, 1.0 / 128, -128.0),
    "s16": (np.int16, 1.0 / 32768, 0.0),
    "s32": (np.int32, 1.0 / 2**31, 0.0),
    "s64": (np.int64, 1.0 / 2**63, 0.0),
    "flt": (np.float32, 1.0, 0.0),
    "dbl": (np.float64, 1.0, 0.0),
}


def validate_audio(y: np.ndarray, *, name: str = "y") -> np.ndarray:
    """Check ``y`` is a finite, non-empty, 1-D float signal; return it as contiguous float32.

    Raises
    ------
    FeatureParameterError
        naming ``name`` and what is wrong with it.
    """
    if not isinstance(y, np.ndarray):
        raise FeatureParameterError(f"{name} must be a numpy array, got {type(y).__name__}")
    if y.ndim != 1:
        raise FeatureParameterError(f"{name} must be mono (1-D), got shape {y.shape}")
    if y.size == 0:
        raise FeatureParameterError(f"{name} is empty")
    if not np.issubdtype(y.dtype, np.floating):
        raise FeatureParameterError(f"{name} must be floating point, got {y.dtype}")
    if not np.all(np.isfinite(y)):
        raise FeatureParameterError(f"{name} contains NaN or infinite samples")
    return np.ascontiguousarray(y, dtype=np.float32)


def _downmix(block: np.ndarray) -> np.ndarray:
    """Mean of the channels of a (frames, channels) block, as a new contiguous float32 array.

    Adds column by column: ``block.mean(axis=1)`` gives the same stereo result but reduces along
    the strided axis, which is much slower.
    """
    mono = block[:, 0].astype(np.float32)
    for channel in range(1, block.shape[1]):
        mono += block[:, channel]
    if block.shape[1] > 1:
        mono *= np.float32(1.0 / block.shape[1])
    return mono


class _MonoAssembler:
    """Collects mono blocks at the native rate, enforces the length limit, resamples to ``sr``.

    Only the mono output at ``sr`` is ever held whole: a 10-minute 44.1 kHz stereo track needs
    53 MB here instead of the 212 MB of decoding it first.
    """

    def __init__(
        self,
        native_sr: int,
        sr: int,
        max_duration_s: float | None,
        what: str,
        min_sample_rate: int = 1,
    ) -> None:
        if native_sr <= 0:
            raise AudioDecodeError(f"{what} does not say its sample rate")
        if native_sr < min_sample_rate:
            raise AudioDecodeError(
                f"{what} is sampled at {native_sr} Hz; at least {min_sample_rate} Hz is needed"
            )
        self._resampler = (
            soxr.ResampleStream(native_sr, sr, 1, dtype="float32", quality="HQ")
            if native_sr != sr
            else None
        )
        self._limit = None if max_duration_s is None else max_duration_s * native_sr
        self._max_duration_s = max_duration_s
        self._what = what
        self._chunks: list[np.ndarray] = []
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self.decoded = 0

    def add(self, mono: np.ndarray) -> None:
        self.decoded += mono.size
        if self._limit is not None and self.decoded > self._limit:
            raise AudioTooLongError(
                f"{self._what} is longer than the limit of {self._max_duration_s:g} s"
            )
        self._pending.append(mono)
        self._pending_n += mono.size
        if self._pending_n >= _BLOCK_SAMPLES:  # soxr gets ~1.5 s blocks, not codec frames
            self._flush(last=False)

    def _flush(self, *, last: bool) -> None:
        block = np.concatenate(self._pending) if self._pending else np.zeros(0, np.float32)
        if self._resampler is not None:
            block = self._resampler.resample_chunk(block, last=last)
        self._chunks.append(block)
        self._pending, self._pending_n = [], 0

    def finish(self) -> np.ndarray:
        if self.decoded < _MIN_SAMPLES:
            raise AudioDecodeError(
                f"{self._what} decodes to {self.decoded} samples: no usable audio"
            )
        self._flush(last=True)
        return np.concatenate(self._chunks)


def _decode_with_libsndfile(
    handle: object, sr: int, max_duration_s: float | None, what: str, min_sample_rate: int
) -> np.ndarray:
    with sf.SoundFile(handle) as f:
        out = _MonoAssembler(f.samplerate, sr, max_duration_s, what, min_sample_rate)
        if (
            max_duration_s is not None
            and 0 < f.frames < _UNKNOWN_FRAMES
            and f.frames / f.samplerate > max_duration_s
        ):
            raise AudioTooLongError(
                f"{what} is {f.frames / f.samplerate:.1f} s long; the limit is {max_duration_s:g} s"
            )
        for block in f.blocks(blocksize=_BLOCK_SAMPLES, dtype="float32", always_2d=True):
            out.add(_downmix(block))
        return out.finish()


def _frame_to_mono(frame: av.AudioFrame) -> np.ndarray:
    """Decoded FFmpeg samples -> mono float32 (channel mean), read straight off the planes."""
    fmt = frame.format
    dtype, scale, offset = _SAMPLE_FORMATS[fmt.name.removesuffix("p")]
    n = frame.samples
    channels = len(frame.layout.channels)
    if fmt.is_planar:
        planes = frame.planes
        mono = np.frombuffer(planes[0], dtype, n).astype(np.float32)
        for plane in planes[1:channels]:
            mono += np.frombuffer(plane, dtype, n)
        if channels > 1:
            mono *= np.float32(1.0 / channels)
    else:
        mono = _downmix(np.frombuffer(frame.planes[0], dtype, n * channels).reshape(n, channels))
    if offset:
        mono += np.float32(offset)
    if scale != 1.0:
        mono *= np.float32(scale)
    return mono


def container_format(head: bytes) -> str | None:
    """The FFmpeg demuxer for audio whose first bytes are ``head`` (16 are enough), or None
    when it is none of :data:`SUPPORTED_FORMATS`."""
    for matches, demuxer in _FFMPEG_DEMUXERS:
        if matches(head):
            return demuxer
    return None


def _decode_with_ffmpeg(
    handle: object,
    sr: int,
    max_duration_s: float | None,
    what: str,
    min_sample_rate: int,
    demuxer: str,
) -> np.ndarray:
    options = {"protocol_whitelist": "file" if isinstance(handle, str) else _NO_PROTOCOLS}
    with av.open(handle, mode="r", format=demuxer, options=options) as container:
        if not container.streams.audio:
            raise AudioDecodeError(f"{what} has no audio stream")
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        else:
            seconds = (container.duration or 0) / av.time_base
        if max_duration_s is not None and seconds > max_duration_s:
            raise AudioTooLongError(
                f"{what} is {seconds:.1f} s long; the limit is {max_duration_s:g} s"
            )
        out: _MonoAssembler | None = None  # made at the first frame: its rate is the truth
        # Codec frames are short (a few hundred samples for Vorbis): FFmpeg's FIFO joins them in
        # C, and numpy sees blocks of _BLOCK_SAMPLES. Converting frame by frame in Python costs
        # about as much as the decoding itself. The FIFO refuses a frame whose format, layout or rate differs from the first.
        fifo = av.AudioFifo()
        for frame in container.decode(stream):
            frame.pts = None  # the FIFO would refuse timestamp gaps; samples are what count
            try:
                fifo.write(frame)
            except ValueError as exc:
                raise AudioDecodeError(
                    f"{what} changes its sample format, channels or rate mid-stream"
                ) from exc
            if out is None:
                out = _MonoAssembler(frame.sample_rate, sr, max_duration_s, what, min_sample_rate)
            if fifo.samples >= _BLOCK_SAMPLES:
                out.add(_frame_to_mono(fifo.read(_BLOCK_SAMPLES)))
        if out is None:
            raise AudioDecodeError(f"{what} decodes to 0 samples: no usable audio")
        rest = fifo.read()
        if rest is not None:
            out.add(_frame_to_mono(rest))
        return out.finish()


def _reason(exc: Exception) -> str:
    """What went wrong, in words: FFmpeg's and the OS's errors without their errno and file
    name (``[Errno 1094995529] Invalid data found ...: '<none>'`` says nothing to a caller)."""
    strerror = getattr(exc, "strerror", None)
    if isinstance(exc, OSError | av.FFmpegError) and strerror:
        return str(strerror)
    return str(exc) or type(exc).__name__


def stated_duration_s(data: bytes | bytearray | memoryview) -> float | None:
    """The duration that encoded audio's header states, in seconds, read without decoding
    (microseconds); ``None`` when the container is not one libsndfile reads (WAV, RF64, FLAC,
    AIFF), states no length, or cannot be read. A header can lie: :func:`load_audio` checks
    the decoded length again."""
    if bytes(data[:4]) not in _LIBSNDFILE_MAGIC:
        return None
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError):
        return None
    if not 0 < info.frames < _UNKNOWN_FRAMES or info.samplerate <= 0:
        return None
    return info.frames / info.samplerate


def load_audio(
    source: AudioSource,
    *,
    sr: int,
    max_duration_s: float | None = None,
    min_sample_rate: int = 1,
) -> np.ndarray:
    """Decode ``source`` (a path or encoded bytes) to mono float32 at ``sr`` Hz.

    Parameters
    ----------
    source : path or bytes
        An audio file or its bytes: WAV, FLAC, AIFF, OGG (Vorbis/Opus), MP3, M4A/AAC, ...
        (the first audio stream of anything FFmpeg reads).
    sr : int
        Target sample rate in Hz.
    max_duration_s : float, optional
        Refuse audio longer than this many seconds (checked from the header before decoding,
        and again while decoding, for headers that do not say or that lie).
    min_sample_rate : int
        Refuse audio whose own sample rate (Hz) is below this: a 1 Hz "clip" is not audio.

    Returns
    -------
    y : np.ndarray [shape=(n,), dtype=float32]
        Samples in [-1, 1] at ``sr`` Hz.

    Raises
    ------
    AudioDecodeError
        Empty, truncated, corrupt or unsupported input.
    AudioTooLongError
        The audio is longer than ``max_duration_s``.
    """
    what = str(source) if isinstance(source, str | Path) else f"{len(source)} bytes of audio"
    data: bytes | None = None
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) == 0:
            raise AudioDecodeError("the audio is empty (0 bytes)")
        data = bytes(source)
        magic = data[:4]
    else:
        if not Path(source).is_file():
            raise AudioDecodeError(f"no audio file at {source}")
        with open(source, "rb") as f:
            data_head = f.read(16)
        magic = data_head[:4]
    head = data[:16] if data is not None else data_head
    demuxer = container_format(head)
    if demuxer is None:
        raise AudioDecodeError(
            f"cannot decode {what}: not a container moodstream reads (supported: {SUPPORTED_FORMATS})"
        )

    def fresh_handle() -> object:  # each decoder reads from the start
        return io.BytesIO(data) if data is not None else str(source)

    try:
        y = None
        if magic in _LIBSNDFILE_MAGIC:
            try:
                y = _decode_with_libsndfile(
                    fresh_handle(), sr, max_duration_s, what, min_sample_rate
                )
            except sf.LibsndfileError as exc:
                logger.debug("libsndfile cannot read %s (%s); trying FFmpeg", what, exc)
        if y is None:
            y = _decode_with_ffmpeg(
                fresh_handle(), sr, max_duration_s, what, min_sample_rate, demuxer
            )
    except AudioDecodeError:
        raise
    except (av.FFmpegError, KeyError, RuntimeError, ValueError, TypeError, OSError) as exc:
        raise AudioDecodeError(
            f"cannot decode {what}: {_reason(exc)} (supported: {SUPPORTED_FORMATS})"
        ) from exc
    if not np.all(np.isfinite(y)):
        raise AudioDecodeError(f"{what} decodes to NaN or infinite samples")
    return np.clip(y, -1.0, 1.0, out=y)
