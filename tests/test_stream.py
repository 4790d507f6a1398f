"""Encoding and decoding real video bitstreams (stdo.delivery.stream) on frames of the bundled clip."""
from __future__ import annotations

import subprocess
from fractions import Fraction

import av
import cv2
import imageio_ffmpeg
import numpy as np
import pytest
from conftest import WINDOW

from stdo.delivery.stream import ENCODERS, decode, encode, encode_lossless, probe
from stdo.errors import InputError
from stdo.sources import bundled_clip

# Mid-ladder quality for each encoder (their crf scales differ), and a lower / higher pair.
CRF = {"libx264": 23, "libx265": 28, "libsvtav1": 35, "libvpx-vp9": 32}
CRF_PAIR = {"libx264": (18, 34), "libx265": (20, 36), "libsvtav1": (20, 50), "libvpx-vp9": (20, 48)}
# Measured on the bunny window at the CRF above: 34.8 (x265) .. 39.1 dB (vp9); RGB -> yuv420p
# -> RGB alone costs about 46 dB here, so anything real stays well above 32.
MIN_PSNR = 32.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def decoded(path) -> np.ndarray:
    return np.stack(list(decode(path)))


def ffmpeg_rgb(path, height: int, width: int) -> np.ndarray:
    """The RGB frames the ffmpeg CLI (imageio-ffmpeg's static binary) decodes, with its own defaults."""
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path),
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    """(24, 160, 256, 3): about a second of the clip, enough for rate control to settle."""
    cap = cv2.VideoCapture(str(bundled_clip()))
    frames = []
    for _ in range(24):
        ok, frame = cap.read()
        assert ok
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)[WINDOW])
    cap.release()
    return np.stack(frames)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_round_trip(encoder, bunny, tmp_path):
    path = tmp_path / "lr.mp4"
    info = encode(iter(bunny), path, fps=25, encoder=encoder, crf=CRF[encoder])
    out = decoded(path)
    assert out.shape == bunny.shape and out.dtype == np.uint8
    assert psnr(out, bunny) > MIN_PSNR
    assert info["frames"] == len(bunny) and info["bytes"] == path.stat().st_size
    assert (info["width"], info["height"], info["fps"]) == (256, 160, 25.0)
    assert info["container"] == "mp4" and info["pix_fmt"] == "yuv420p"
    assert all(isinstance(v, str) for v in info["options"].values())
    assert info["options"]["crf"] == str(CRF[encoder])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lr.mp4"]  # no temporary left over
    with av.open(str(path)) as container:
        cc = container.streams.video[0].codec_context
        # smpte170m (6) primaries, transfer and matrix, limited range (1)
        assert (cc.color_primaries, cc.color_trc, cc.colorspace, cc.color_range) == (6, 6, 6, 1)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_lower_crf_gives_more_bytes_and_quality(encoder, bunny, tmp_path):
    low, high = CRF_PAIR[encoder]
    fine = encode(bunny, tmp_path / "fine.mp4", fps=25, encoder=encoder, crf=low)
    coarse = encode(bunny, tmp_path / "coarse.mp4", fps=25, encoder=encoder, crf=high)
    assert fine["bytes"] > 1.5 * coarse["bytes"]
    assert psnr(decoded(tmp_path / "fine.mp4"), bunny) > psnr(decoded(tmp_path / "coarse.mp4"), bunny)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_bitrate_mode_lands_near_the_target(encoder, clip, tmp_path):
    seconds = len(clip) / 25
    kbps = {}
    for target in (150, 600):
        info = encode(clip, tmp_path / f"{target}.mp4", fps=25, encoder=encoder, bitrate_kbps=target)
        assert info["rate_control"] == "bitrate" and info["options"]["b"] == str(target * 1000)
        kbps[target] = info["bytes"] * 8 / 1000 / seconds
        # Measured 0.75 .. 1.3 of the target on these 24 frames; rate control is loose on a second.
        assert 0.5 * target < kbps[target] < 2 * target
    assert kbps[600] > 2 * kbps[150]


def keyframes(path) -> list[int]:
    with av.open(str(path)) as container:
        return [i for i, packet in enumerate(container.demux(video=0)) if packet.size and packet.is_keyframe]


@pytest.mark.parametrize("encoder", ENCODERS)
def test_a_keyframe_is_forced_every_n_frames_where_asked(encoder, clip, tmp_path):
    """Every 8th frame starts a closed GOP (what a DASH segment must start with); the encoder may add more."""
    info = encode(clip, tmp_path / "k.mp4", fps=25, encoder=encoder, crf=CRF[encoder], keyframe_every=8)
    assert {0, 8, 16} <= set(keyframes(tmp_path / "k.mp4")) and info["keyframe_every"] == 8
    assert psnr(decoded(tmp_path / "k.mp4"), clip) > MIN_PSNR


@pytest.mark.parametrize("encoder", ENCODERS)
def test_threads_reach_the_encoder(encoder, bunny, tmp_path):
    info = encode(bunny[:2], tmp_path / "t.mp4", fps=25, encoder=encoder, crf=CRF[encoder], threads=2)
    assert info["threads"] == 2
    assert len(decoded(tmp_path / "t.mp4")) == 2
    expected = {"libx265": ("x265-params", "pools=2"), "libsvtav1": ("svtav1-params", "lp=2"),
                "libvpx-vp9": ("row-mt", "1")}
    if encoder in expected:
        key, value = expected[encoder]
        assert value in info["options"][key]


def test_presets(bunny, tmp_path):
    vp9 = encode(bunny[:2], tmp_path / "a.mp4", fps=25, encoder="libvpx-vp9", crf=32, preset=8)
    assert vp9["options"]["cpu-used"] == "8" and vp9["options"]["deadline"] == "realtime"
    assert vp9["options"]["b"] == "0"  # constant quality, not crf capped by a default bitrate
    av1 = encode(bunny[:2], tmp_path / "b.mp4", fps=25, encoder="libsvtav1", crf=35)
    assert av1["preset"] == av1["options"]["preset"] == "8"
    x264 = encode(bunny[:2], tmp_path / "c.mp4", fps=25, encoder="libx264", crf=23, preset="veryfast")
    assert x264["options"]["preset"] == "veryfast"


def test_lossless_is_bit_exact(bunny, tmp_path):
    odd = np.ascontiguousarray(bunny[:3, :151, :203])  # FFV1 on RGB takes odd sizes too
    for frames in (bunny, odd):
        path = tmp_path / "hr.mkv"
        info = encode_lossless(iter(frames), path, fps=25)
        assert np.array_equal(decoded(path), frames)
        assert np.array_equal(ffmpeg_rgb(path, *frames.shape[1:3]), frames)
        assert info["frames"] == len(frames) and info["bytes"] == path.stat().st_size
    meta = probe(path)
    assert meta["codec"] == "ffv1" and meta["fps"] == 25.0 and meta["frames"] is None  # Matroska
    assert meta["duration"] == pytest.approx(3 / 25, abs=0.002)


@pytest.mark.parametrize("fps", [25, 12.5, 29.97, 30000 / 1001, Fraction(24000, 1001)])
def test_probe_reports_frames_and_fps(fps, bunny, tmp_path):
    path = tmp_path / "v.mp4"
    info = encode(bunny, path, fps=fps, encoder="libx264", crf=30, preset="ultrafast")
    meta = probe(path)
    assert meta["frames"] == len(bunny) == len(decoded(path))
    assert meta["fps"] == pytest.approx(float(fps), rel=1e-6) == info["fps"]
    assert meta["duration"] == pytest.approx(len(bunny) / float(fps), rel=1e-3)
    assert (meta["width"], meta["height"], meta["codec"]) == (256, 160, "h264")


@pytest.mark.parametrize("encoder", ENCODERS)
def test_colours_agree_with_the_ffmpeg_cli(encoder, bunny, tmp_path):
    path = tmp_path / "v.mp4"
    encode(bunny, path, fps=25, encoder=encoder, crf=CRF[encoder])
    ours, theirs = decoded(path).astype(int), ffmpeg_rgb(path, 160, 256).astype(int)
    assert ours.shape == theirs.shape
    # Both convert with swscale's BT.601 limited-range path (the CLI because of the stream's
    # tags); with FFmpeg 9.0.2 the CLI agrees exactly. The slack allows another swscale version
    # to round differently, while a wrong matrix (BT.709: up to 12 levels here) or range (17) fails.
    diff = np.abs(ours - theirs)
    assert diff.max() <= 2 and diff.mean() < 0.5


def assert_input_error(call, tmp_path, *words):
    """InputError, one line naming the input and `words`; nothing left in tmp_path."""
    with pytest.raises(InputError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert [p.name for p in tmp_path.iterdir() if p.name != "keep.txt"] == []


def test_bad_encoder_and_rate_arguments(bunny, tmp_path):
    out = tmp_path / "x.mp4"
    assert_input_error(lambda: encode(bunny, out, fps=25, encoder="h264", crf=23), tmp_path,
                       str(out), "h264", "libx264, libx265, libsvtav1, libvpx-vp9")
    assert_input_error(lambda: encode(bunny, out, fps=25, encoder="libx264"), tmp_path,
                       str(out), "crf", "bitrate_kbps")
    assert_input_error(lambda: encode(bunny, out, fps=25, encoder="libx264", crf=23, bitrate_kbps=500),
                       tmp_path, str(out), "crf", "bitrate_kbps")
    assert_input_error(lambda: encode(bunny, out, fps=25, encoder="libx264", crf=23, preset="quick"),
                       tmp_path, str(out), "quick")
    assert_input_error(lambda: encode(bunny, out, fps=25, encoder="libsvtav1", crf=35, preset=14),
                       tmp_path, str(out), "0..13")
    assert_input_error(lambda: encode(bunny, out, fps=0, encoder="libx264", crf=23), tmp_path,
                       str(out), "fps")
    assert_input_error(lambda: encode(bunny, out, fps=25, encoder="libsvtav1", crf=0), tmp_path,
                       str(out), "crf", "1..63")
    assert_input_error(lambda: encode(bunny, out, fps=25, encoder="libx264", bitrate_kbps=-5),
                       tmp_path, str(out), "bitrate_kbps")
    assert_input_error(lambda: encode(bunny, out, fps=25, encoder="libx264", crf=23, keyframe_every=0),
                       tmp_path, str(out), "keyframe_every")
    assert_input_error(lambda: encode_lossless(bunny, tmp_path / "x.mkv", fps=25, threads=0),
                       tmp_path, "x.mkv", "threads")


def test_bad_frames(bunny, tmp_path):
    out = tmp_path / "x.mp4"
    odd = bunny[:, :159, :255]
    assert_input_error(lambda: encode(odd, out, fps=25, encoder="libx264", crf=23), tmp_path,
                       str(out), "255x159", "even")
    resized = [bunny[0], bunny[1], bunny[2, :80, :128]]
    assert_input_error(lambda: encode(resized, out, fps=25, encoder="libx264", crf=23), tmp_path,
                       str(out), "frame 2", "128x80", "256x160")
    floats = [bunny[0], bunny[1].astype(np.float32)]
    assert_input_error(lambda: encode(floats, out, fps=25, encoder="libx264", crf=23), tmp_path,
                       str(out), "frame 1", "uint8", "float32")
    gray = [bunny[0, ..., 0]]
    assert_input_error(lambda: encode_lossless(gray, tmp_path / "x.mkv", fps=25), tmp_path,
                       "x.mkv", "frame 0", "(160, 256)")
    assert_input_error(lambda: encode([], out, fps=25, encoder="libx264", crf=23), tmp_path,
                       str(out), "no frames")


def test_failure_midway_leaves_no_file(bunny, tmp_path):
    def frames():
        yield from bunny[:3]
        raise RuntimeError("camera unplugged")

    with pytest.raises(RuntimeError, match="camera unplugged"):
        encode(frames(), tmp_path / "x.mp4", fps=25, encoder="libx264", crf=23)
    with pytest.raises(RuntimeError, match="camera unplugged"):
        encode_lossless(frames(), tmp_path / "x.mkv", fps=25)
    assert list(tmp_path.iterdir()) == []


def test_decode_and_probe_reject_missing_and_non_video_files(bunny, tmp_path):
    (tmp_path / "keep.txt").write_text("not a video\n")
    good = tmp_path / "good.mp4"
    encode(bunny, good, fps=25, encoder="libx264", crf=30, preset="ultrafast")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[:200])
    good.unlink()
    cases = [(tmp_path / "missing.mp4", "no such"), (tmp_path / "keep.txt", "not a readable video"),
             (truncated, "not a (readable )?video")]
    for bad, word in cases:
        with pytest.raises(InputError, match=word) as err:
            decode(bad)  # raises at once, before any frame is asked for
        assert str(bad) in str(err.value) and "\n" not in str(err.value)
        with pytest.raises(InputError, match=word):
            probe(bad)
