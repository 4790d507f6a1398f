"""Quality of a rebuilt video against its original HR frames, measured as a streaming engineer
would: PSNR (RGB and Y), SSIM, VMAF and VMAF NEG over every frame, fed one frame at a time. Their conventions are
those of the tables' rd_psnr_rgb, rd_psnr_y, rd_ssim, vmaf and vmaf_neg, stated in `stdo.measures` (and returned in
every result as `conventions`). How they are computed:

- Frames are uint8 RGB; the reference is a (T, H, W, 3) uint8 .npy file, read one frame at a
  time (by Python for PSNR, by FFmpeg for SSIM and VMAF), so memory stays at a few frames.
- PSNR from the per-frame sums of squared errors (`frame_sse`); Y as `stdo.metrics.rgb_to_y`, not rounded.
- SSIM and VMAF from libvmaf in the static FFmpeg of imageio-ffmpeg, both models in one pass. Both videos are first
  converted rgb24 -> yuv420p by FFmpeg's default conversion: its Y is `stdo.metrics.rgb_to_y` rounded, off by one
  on ~0.4 % of pixels from swscale's fixed-point arithmetic.
- `vmaf_subsample` n > 1: libvmaf's `n_subsample`. FFmpeg (conversion and libvmaf) took 4.2 CPU-seconds for 132
  frames of 720p here, 1.6 with n = 4, which made the evaluate stage 13 % faster (README).
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from .errors import InputError
from .measures import VMAF_MODELS, legend
from .metrics import psnr

VMAF_MODEL = VMAF_MODELS["vmaf"]  # VMAF_MODELS: result key -> libvmaf's built-in model
# BT.601 studio-range luma weights; the +16 offset cancels in a difference.
_Y_WEIGHTS = (np.array([65.481, 128.553, 24.966]) / 255.0).astype(np.float32)
# Smaller frames crash (SIGSEGV) the libvmaf of imageio-ffmpeg's FFmpeg 9.0.2 (found by probing).
MIN_SIZE = 17
_LOG_NAME = "vmaf.json"
_STDERR_LINES = 10

# result key -> the column of the tables it becomes (stdo.scoring), whose convention stdo.measures states
COLUMNS = {"psnr_rgb": "rd_psnr_rgb", "psnr_y": "rd_psnr_y", "ssim": "rd_ssim", "vmaf": "vmaf", "vmaf_neg": "vmaf_neg"}
CONVENTIONS = " ".join((f"{', '.join(COLUMNS)} are the tables' {', '.join(COLUMNS.values())}.",
                        *legend(COLUMNS.values())))


def conventions(vmaf_subsample: int = 1) -> str:
    if vmaf_subsample == 1:
        return CONVENTIONS
    return CONVENTIONS + (f" ssim/vmaf on frames 0, {vmaf_subsample}, {2 * vmaf_subsample} ... only "
                          f"(libvmaf n_subsample={vmaf_subsample}), means over those frames.")


def open_reference(path) -> np.ndarray:
    """The (T, H, W, 3) uint8 reference frames of a .npy file, memory-mapped."""
    try:
        frames = np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"{path}: not a readable .npy file ({reason})") from None
    if not isinstance(frames, np.memmap):  # an .npz archive, say
        raise InputError(f"{path}: not a .npy file holding one array")
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3 or len(frames) == 0:
        raise InputError(f"{path}: reference must be (T, H, W, 3) uint8 frames, "
                         f"found {frames.shape} {frames.dtype}")
    if min(frames.shape[1:3]) < MIN_SIZE:
        raise InputError(f"{path}: frames of {frames.shape[1]}x{frames.shape[2]} are too small for "
                         f"libvmaf (at least {MIN_SIZE}x{MIN_SIZE})")
    if not frames.flags.c_contiguous:  # FFmpeg reads the raw bytes in C order
        raise InputError(f"{path}: reference is stored in Fortran order; save it in C order")
    return frames


def frame_sse(frame: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """Sums of squared errors of one frame against its reference, in RGB and in BT.601 Y.

    float32 differences (exact in RGB) summed in float64: within 1e-5 dB of the float64
    `stdo.metrics` path and about 5x faster at 720p."""
    diff = np.subtract(frame, reference, dtype=np.float32)
    diff_y = diff @ _Y_WEIGHTS
    np.square(diff, out=diff)
    np.square(diff_y, out=diff_y)
    return float(diff.sum(dtype=np.float64)), float(diff_y.sum(dtype=np.float64))


def ffmpeg_command(reference_path, shape, offset: int, *, fps: float, threads: int,
                   features=("float_ssim",), vmaf_subsample: int = 1) -> list[str]:
    """FFmpeg reading the distorted frames (rgb24) on stdin and the reference straight from the
    .npy file, writing libvmaf's JSON log to `vmaf.json` in its working directory."""
    _, height, width, _ = shape
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{width}x{height}",
           "-framerate", f"{fps:g}"]
    # several models in one pass: '|' between them, a ':' inside one escaped for the option parser (and its
    # backslash for the filter-graph parser)
    models = "|".join(f"version={version}\\\\:name={key}" for key, version in VMAF_MODELS.items())
    vmaf = ":".join([f"model={models}", "feature=" + "|".join(f"name={f}" for f in features),
                     f"n_threads={threads}", f"n_subsample={vmaf_subsample}", "log_fmt=json",
                     f"log_path={_LOG_NAME}"])
    # libvmaf's first input is the distorted ("main") video, the second the reference.
    graph = f"[0:v]format=yuv420p[dis];[1:v]format=yuv420p[ref];[dis][ref]libvmaf={vmaf}"
    return [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error",
            "-filter_threads", str(threads), "-threads", str(threads),
            *raw, "-i", "pipe:0",
            *raw, "-skip_initial_bytes", str(offset), "-i", f"file:{Path(reference_path).resolve()}",
            "-lavfi", graph, "-f", "null", "-"]


class VideoQuality:
    """Context manager. Quality of a video against the reference frames in a .npy file, fed
    frame by frame with `add`; `result()` after the last frame. Memory stays at a few frames.
    `vmaf_subsample`: libvmaf scores every n-th frame only (module docstring)."""

    def __init__(self, reference_path, *, fps: float, threads: int = 1, vmaf_subsample: int = 1):
        if not fps > 0 or threads < 1 or vmaf_subsample < 1:
            raise ValueError(f"fps must be > 0, threads and vmaf_subsample >= 1, got fps={fps}, "
                             f"threads={threads}, vmaf_subsample={vmaf_subsample}")
        self.vmaf_subsample = vmaf_subsample
        self.path = Path(reference_path)
        reference = open_reference(self.path)
        self.shape, offset = reference.shape, reference.offset
        del reference  # frames are read into one buffer instead: a memmap's RSS grows with the video
        self.count = 0
        self._sse_rgb: list[float] = []
        self._sse_y: list[float] = []
        self._result: dict | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="stdo-quality-")
        self._dir = Path(self._tmp.name)
        # stderr to a file: a pipe nobody reads could fill up and stall FFmpeg.
        self._stderr = open(self._dir / "ffmpeg.log", "wb")
        self._reference_file = open(self.path, "rb")
        self._reference_file.seek(offset)
        self._reference_frame = np.empty(self.shape[1:], np.uint8)
        command = ffmpeg_command(self.path, self.shape, offset, fps=fps, threads=threads,
                                 vmaf_subsample=vmaf_subsample)
        try:
            self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=self._stderr, cwd=self._dir)
        except OSError:
            self.close()
            raise

    def __enter__(self) -> VideoQuality:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, frame) -> None:
        """Measure the next frame, (H, W, 3) uint8 RGB like the reference."""
        frame = np.asarray(frame)
        if frame.shape != self.shape[1:] or frame.dtype != np.uint8:
            raise InputError(f"{self.path}: frame {self.count} is {frame.shape} {frame.dtype}, "
                             f"the reference frames are {self.shape[1:]} uint8")
        if self.count < self.shape[0]:  # extra frames are only counted, for result()
            self._reference_file.readinto(self._reference_frame.data)
            sse_rgb, sse_y = frame_sse(frame, self._reference_frame)
            self._sse_rgb.append(sse_rgb)
            self._sse_y.append(sse_y)
            self._write(np.ascontiguousarray(frame))
        self.count += 1

    def result(self) -> dict:
        """PSNR, SSIM and VMAF of the whole video (JSON-able; PSNR is inf for identical videos)."""
        if self._result is None:
            total = self.shape[0]
            if self.count != total:
                self.close()
                raise InputError(f"{self.path}: the video had {self.count} of {total} frames")
            self._result = self._finish()
        return self._result

    def close(self) -> None:
        """Stop FFmpeg if it still runs and remove the temporary files; safe to call twice."""
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc is not None and proc.stdin and not proc.stdin.closed:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
        self._reference_file.close()
        self._stderr.close()
        self._tmp.cleanup()

    def _write(self, frame: np.ndarray) -> None:
        try:
            self._proc.stdin.write(frame.data)
        except BrokenPipeError:
            self._proc.wait()
            raise self._failure() from None

    def _finish(self) -> dict:
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        if self._proc.wait() != 0:
            raise self._failure()
        log = json.loads((self._dir / _LOG_NAME).read_text())
        self.close()
        scored = len(range(0, self.count, self.vmaf_subsample))
        if len(log["frames"]) != scored:
            raise RuntimeError(f"{self.path}: libvmaf scored {len(log['frames'])} of {scored} frames")
        return self._summary(log)

    def _summary(self, log: dict) -> dict:
        pixels = self.shape[1] * self.shape[2]
        mse_rgb = np.array(self._sse_rgb) / (3 * pixels)
        mse_y = np.array(self._sse_y) / pixels
        pooled = log["pooled_metrics"]
        return {
            "frames": self.count,
            "psnr_rgb": float(psnr(mse_rgb.mean())),
            "psnr_y": float(psnr(mse_y.mean())),
            "ssim": float(pooled["float_ssim"]["mean"]),
            "vmaf": float(pooled["vmaf"]["mean"]),
            "vmaf_neg": float(pooled["vmaf_neg"]["mean"]),
            "vmaf_model": VMAF_MODEL + (f", 1 frame in {self.vmaf_subsample}" if self.vmaf_subsample > 1 else ""),
            "vmaf_subsample": self.vmaf_subsample,
            "per_frame": {"psnr_y": [float(v) for v in psnr(mse_y)],
                          "vmaf": [float(f["metrics"]["vmaf"]) for f in log["frames"]]},
            "conventions": conventions(self.vmaf_subsample),
        }

    def _failure(self) -> RuntimeError:
        self._stderr.flush()
        lines = (self._dir / "ffmpeg.log").read_text(errors="replace").strip().splitlines()
        tail = " | ".join(lines[-_STDERR_LINES:]) or "no message"
        self.close()
        return RuntimeError(f"{self.path}: ffmpeg failed (exit {self._proc.returncode}): {tail}")
