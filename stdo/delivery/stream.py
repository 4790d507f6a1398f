"""Encode RGB frames into real video bitstreams and decode them back (PyAV / FFmpeg).

The server encodes the low-resolution video at a ladder of rate points (and the high-resolution
baseline) with `encode`; the client turns the bitstream it received back into RGB with `decode`.

Colour convention, identical on both sides: 8-bit yuv420p, BT.601 matrix, limited ("tv") range
(Y in 16..235, Cb/Cr in 16..240). The RGB -> YUV conversion in `encode` and the YUV -> RGB
conversion in `decode` name that matrix and range explicitly, never relying on defaults, and the
stream is tagged smpte170m (primaries, transfer, matrix) with range tv, so that other players
(the ffmpeg CLI, browsers) pick the same matrix. `encode_lossless` keeps RGB (FFV1 on bgr0, which
FFV1 stores with its reversible colour transform) and involves no matrix at all.

Frames are streamed in and out one at a time: memory does not grow with the length of the video.
"""
from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import Interpolation

from stdo import vocabulary
from stdo.errors import InputError
from stdo.io import atomic_path

ENCODERS = tuple(vocabulary.ENCODERS)  # their ranges and presets: stdo.vocabulary

# FFmpeg's AVColor* values for the tags (the same number, 6, for all three smpte170m tags).
_SMPTE170M = 6
_RANGE_TV = 1
COLOR_TAGS = {"color_primaries": "smpte170m", "color_trc": "smpte170m",
              "colorspace": "smpte170m", "color_range": "tv"}
# RGB is always full range; swscale takes these names (ITU601 = BT.601, MPEG = tv, JPEG = pc).
_TO_YUV = {"format": "yuv420p", "src_colorspace": "ITU601", "dst_colorspace": "ITU601",
           "src_color_range": "JPEG", "dst_color_range": "MPEG",
           # AREA averages each 2x2 chroma block: on the bundled clip it gave the best RGB round
           # trip through swscale's YUV -> RGB (the one decode and the ffmpeg CLI use), 45.9 dB
           # against 45.2 dB for the default bilinear.
           "interpolation": Interpolation.AREA}
_TO_RGB = {"format": "rgb24", "src_colorspace": "ITU601", "dst_colorspace": "ITU601",
           "src_color_range": "MPEG", "dst_color_range": "JPEG"}


def encode(frames: Iterable[np.ndarray], path: str | Path, *, fps: float, encoder: str,
           preset: str | int | None = None, crf: int | None = None,
           bitrate_kbps: float | None = None, threads: int = 1, keyframe_every: int | None = None) -> dict:
    """Encode an iterable of (H, W, 3) uint8 RGB frames into an MP4 file at `path`.

    8-bit yuv420p, BT.601 limited range, tagged smpte170m / tv (see the module docstring).
    Exactly one of `crf` (constant quality) and `bitrate_kbps` (average bitrate) is given.

    `preset` per encoder (None gives the default):
      libx264, libx265: a preset name, "ultrafast" .. "placebo" (default "medium");
      libsvtav1: an integer 0 (slowest, best) .. 13 (fastest) (default 8);
      libvpx-vp9: an integer 0 (slowest) .. 8 (fastest) passed as cpu-used, with deadline "good"
      for 0..5 and "realtime" for 6..8 (default 4). Constant quality uses crf with b=0.
    `fps` may be a Fraction; a float is read as the simplest fraction with a denominator up to
    1001 (29.97 -> 2997/100, 30000/1001 -> 30000/1001). Frame i gets pts i in a time base of 1/fps.
    `threads` is the encoder's thread count (libx265: its pool size; libsvtav1, which has no
    thread count: its level of parallelism lp, capped at 6).
    `keyframe_every` frames a keyframe is forced (an IDR: a closed GOP starts there), so that the stream
    can be cut into segments there (DASH, `stdo.delivery.segments`); the encoder may add more at scene
    cuts. None leaves keyframes to the encoder.

    Returns a JSON-able description: encoder, container, pix_fmt, the colour tags, preset, rate
    control, the codec options passed to FFmpeg (strings), threads, frames, bytes, width, height,
    fps (and the exact rate as "num/den")."""
    path = Path(path)
    rate = _rate(fps, path)
    options, preset = _codec_options(path, encoder, preset, crf, bitrate_kbps, threads)
    convert = _keyframes(keyframe_every, path)
    if keyframe_every and encoder in ("libx264", "libx265"):
        options["forced-idr"] = "1"  # a forced keyframe is an IDR, not an open-GOP I frame
    if encoder == "libsvtav1":
        # SVT-AV1 prints its banner straight to stderr unless told otherwise; errors still show.
        os.environ.setdefault("SVT_LOG", "1")

    def open_stream(container, width, height):
        stream = container.add_stream(encoder, rate=rate, options=dict(options))
        _configure(stream, width, height, "yuv420p", rate, threads)
        cc = stream.codec_context
        cc.color_primaries = cc.color_trc = cc.colorspace = _SMPTE170M
        cc.color_range = _RANGE_TV
        if encoder == "libx265":
            cc.codec_tag = "hvc1"  # the HEVC tag Apple players and Safari require in MP4
        return stream

    info = _write(frames, path, "mp4", {"movflags": "+faststart"}, open_stream, convert, even=True)
    return {"encoder": encoder, "container": "mp4", "pix_fmt": "yuv420p", **COLOR_TAGS,
            "preset": preset, "rate_control": "crf" if crf is not None else "bitrate",
            "crf": crf, "bitrate_kbps": bitrate_kbps, "options": options, "threads": threads,
            **({"keyframe_every": keyframe_every} if keyframe_every else {}),
            **info, "fps": float(rate), "rate": f"{rate.numerator}/{rate.denominator}"}


def _keyframes(every: int | None, path: Path):
    """The RGB -> YUV conversion of each frame, marking every `every`-th frame (from the first) a forced
    keyframe."""
    if every is not None and (isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1):
        raise InputError(f"{path}: keyframe_every must be a positive integer, got {every!r}")
    index = iter(range(1 << 62))

    def convert(frame):
        yuv = frame.reformat(**_TO_YUV)
        if every and next(index) % every == 0:
            yuv.pict_type = PictureType.I
        return yuv

    return convert


def encode_lossless(frames: Iterable[np.ndarray], path: str | Path, *, fps: float,
                    threads: int = 1) -> dict:
    """FFV1 (version 3, per-slice CRCs) in Matroska on 8-bit RGB: decoding gives back the input
    frames bit-exactly. `path` should end in .mkv. Same kind of description as encode.

    The pixel format is bgr0, not planar gbrp: FFmpeg's FFV1 encoder takes 8-bit RGB only as
    bgr0 (planar RGB only from 9 bits up); either way RGB is coded losslessly."""
    path = Path(path)
    rate = _rate(fps, path)
    _check_threads(path, threads)
    options = {"level": "3", "slicecrc": "1", "coder": "range_def", "context": "1"}

    def open_stream(container, width, height):
        stream = container.add_stream("ffv1", rate=rate, options=dict(options))
        _configure(stream, width, height, "bgr0", rate, threads)
        return stream

    info = _write(frames, path, "matroska", {}, open_stream,
                  lambda frame: frame.reformat(format="bgr0"), even=False)
    return {"encoder": "ffv1", "container": "matroska", "pix_fmt": "bgr0", "preset": None,
            "rate_control": "lossless", "options": options, "threads": threads, **info,
            "fps": float(rate), "rate": f"{rate.numerator}/{rate.denominator}"}


def decode(path: str | Path) -> Iterator[np.ndarray]:
    """Yield the (H, W, 3) uint8 RGB frames of a video file in presentation order, one at a time.

    YUV frames are converted with the BT.601 limited-range matrix of `encode`, whatever the file's
    tags say (except FFmpeg's legacy full-range yuvj formats, which swscale always reads as full
    range); RGB frames (lossless FFV1) are only repacked. A missing or unreadable file raises
    InputError here, before the first frame is asked for."""
    path = Path(path)
    return _decoded(_open_video(path), path)


def decode_bytes(data: bytes, name: str) -> Iterator[np.ndarray]:
    """`decode` of a video held in memory, e.g. a DASH initialisation segment and one media segment fetched
    over the network; `name` (its address) names it in errors."""
    try:
        container = av.open(io.BytesIO(data))
    except av.FFmpegError as exc:
        raise InputError(f"{name}: not a readable video: {_one_line(exc)}") from exc
    return _decoded(container, Path(name))


def _decoded(container, path: Path) -> Iterator[np.ndarray]:
    with container:
        try:
            for frame in container.decode(video=0):
                if frame.format.is_rgb:
                    yield frame.to_ndarray(format="rgb24")
                else:
                    yield frame.to_ndarray(**_TO_RGB)
        except av.FFmpegError as exc:
            raise InputError(f"{path}: cannot decode the video: {_one_line(exc)}") from exc


def probe(path: str | Path) -> dict:
    """What the container declares, without decoding every frame: frames (None when the container
    does not count them, e.g. Matroska), duration in seconds, fps, width, height, codec."""
    path = Path(path)
    with _open_video(path) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = None
        fps = stream.average_rate or stream.guessed_rate
        return {"frames": stream.frames or None, "duration": duration,
                "fps": float(fps) if fps else None, "width": stream.codec_context.width,
                "height": stream.codec_context.height,
                "codec": stream.codec_context.codec.canonical_name}


def _write(frames, path: Path, container_format: str, container_options: dict, open_stream,
           convert, even: bool) -> dict:
    """Encode `frames` into a temporary file beside `path`, renamed to `path` only when complete.

    `even`: the pixel format subsamples chroma 2x2 (yuv420p), so width and height must be even."""
    count = 0
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format=container_format,
                                            options=container_options) as container:
        stream, first = None, None
        for count, rgb in enumerate(frames, start=1):
            rgb = _check_frame(rgb, path, count - 1, first, even)
            if stream is None:
                first = rgb.shape
                stream = _open(open_stream, container, path, first)
            frame = convert(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
            frame.pts = count - 1
            container.mux(stream.encode(frame))
        if stream is None:
            raise InputError(f"{path}: no frames to encode")
        container.mux(stream.encode(None))
    return {"frames": count, "bytes": path.stat().st_size, "width": first[1], "height": first[0]}


def _open(open_stream, container, path: Path, shape):
    """Add the stream and open its encoder, so that a size the encoder refuses is an input error."""
    stream = open_stream(container, shape[1], shape[0])
    try:
        stream.codec_context.open()
    except av.FFmpegError as exc:
        raise InputError(f"{path}: {stream.codec_context.name} cannot encode "
                         f"{shape[1]}x{shape[0]} frames with these options: {_one_line(exc)}") from exc
    if stream.codec_context.options:  # what FFmpeg did not consume: a misspelt or missing option
        raise RuntimeError(f"{path}: {stream.codec_context.name} ignored options "
                           f"{stream.codec_context.options}")
    return stream


def _configure(stream, width: int, height: int, pix_fmt: str, rate: Fraction, threads: int) -> None:
    """Size, pixel format, thread count, and a time base of exactly one frame (pts = frame index)."""
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    stream.codec_context.time_base = 1 / rate
    stream.time_base = 1 / rate  # a hint: the muxer may pick a finer one; packets are rescaled
    stream.codec_context.thread_count = threads


def _codec_options(path: Path, encoder: str, preset, crf, bitrate_kbps, threads) -> tuple[dict, str]:
    """The AVOptions (all strings) for `encoder`, and the preset as a string."""
    if encoder not in ENCODERS:
        raise InputError(f"{path}: unknown encoder {encoder!r} (known: {', '.join(ENCODERS)})")
    _check_threads(path, threads)
    preset = _preset(path, encoder, preset)
    options = _rate_options(path, encoder, crf, bitrate_kbps)
    if encoder in ("libx264", "libx265", "libsvtav1"):
        options["preset"] = preset
    if encoder == "libx265":
        # libx265 sizes its own pool from the machine's cores, not from the thread count.
        options["x265-params"] = f"log-level=error:pools={threads}" + (
            ":frame-threads=1" if threads == 1 else "")
    elif encoder == "libsvtav1":
        options["svtav1-params"] = f"lp={min(threads, 6)}"
    elif encoder == "libvpx-vp9":
        options.update(_vp9_speed(int(preset)))
        if threads > 1:
            options["row-mt"] = "1"
    return options, preset


def _rate_options(path: Path, encoder: str, crf, bitrate_kbps) -> dict:
    if (crf is None) == (bitrate_kbps is None):
        raise InputError(f"{path}: give exactly one of crf and bitrate_kbps "
                         f"(got crf={crf}, bitrate_kbps={bitrate_kbps})")
    if crf is not None:
        problem = vocabulary.ENCODERS[encoder].crf_problem(crf)
        if problem:
            raise InputError(f"{path}: {problem}")
        # b=0 makes libvpx-vp9 constant quality rather than crf capped by a default bitrate.
        return {"crf": str(int(crf)), "b": "0"}
    if isinstance(bitrate_kbps, bool) or not isinstance(bitrate_kbps, (int, float, np.number)) \
            or not math.isfinite(bitrate_kbps) or bitrate_kbps <= 0:
        raise InputError(f"{path}: bitrate_kbps must be a positive number, got {bitrate_kbps!r}")
    return {"b": str(round(bitrate_kbps * 1000))}


def _preset(path: Path, encoder: str, preset) -> str:
    problem = vocabulary.ENCODERS[encoder].preset_problem(preset)
    if problem:
        raise InputError(f"{path}: {problem}")
    return vocabulary.ENCODERS[encoder].preset(preset)


def _vp9_speed(speed: int) -> dict:
    """libvpx has no preset: speed is cpu-used, whose fast end (6..8) belongs to realtime mode."""
    return {"deadline": "good" if speed <= 5 else "realtime", "cpu-used": str(speed)}


def _check_threads(path: Path, threads) -> None:
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise InputError(f"{path}: threads must be a positive integer, got {threads!r}")


def _rate(fps, path: Path) -> Fraction:
    """fps as an exact fraction: 25 -> 25, 29.97 -> 2997/100, 30000/1001 (as a float) -> 30000/1001."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, Fraction, np.number)) \
            or not math.isfinite(fps) or fps <= 0:
        raise InputError(f"{path}: fps must be a positive number, got {fps!r}")
    if isinstance(fps, (int, Fraction)):
        return Fraction(fps)
    return Fraction(float(fps)).limit_denominator(1001)


def _check_frame(rgb, path: Path, index: int, first, even: bool) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise InputError(f"{path}: frame {index} must be (H, W, 3) uint8 RGB, "
                         f"got shape {rgb.shape} dtype {rgb.dtype}")
    height, width = rgb.shape[:2]
    if first is None and (not height or not width or even and (height % 2 or width % 2)):
        raise InputError(f"{path}: frame size {width}x{height} cannot be stored as "
                         + ("yuv420p (width and height must be even and non-zero)" if even else "video"))
    if first is not None and rgb.shape != first:
        raise InputError(f"{path}: frame {index} is {width}x{height}, "
                         f"but frame 0 is {first[1]}x{first[0]}")
    return np.ascontiguousarray(rgb)


def _open_video(path: Path):
    if not path.is_file():
        raise InputError(f"{path}: no such video file")
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise InputError(f"{path}: not a readable video: {_one_line(exc)}") from exc
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: not a video (it has no video stream)")
    return container


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
