"""`stdo play PACKAGE -o sr.mp4`: the client. It needs nothing but the package (and, for a package
that names a resident base, the folder of bases installed with the player: --base-dir).

A segmented package (`stdo segment`: DASH segments and a segment index beside the package's files) also
plays as a stream, from its folder or an http(s):// URL: with --start and --duration (or a URL) the client
fetches only the segments, models and parts of the chunk map of that span, in order
(`stdo.delivery.streaming`), and writes the same frames the whole package plays over that span.

Decodes the LR stream frame by frame, super-resolves every patch with its chunk's model, stitches
the frames and writes the SR video (x264, or FFV1 with --lossless), in memory bounded by a block of
frames. By default it plays the package as the server evaluated it (the manifest's `playback`:
runtime, precision, context pad, batch), so at the end the sha256 of the SR frames it prints equals
the `sr_sha256` in the server's metrics of that package; any option that changes them (e.g. the
torch runtime in bf16 for speed) changes the frames slightly."""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

from ..errors import InputError
from . import stream
from .manifest import open_package
from .player import PRECISIONS, RUNTIMES, playback, upscale


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stdo play", description="Play a stdo package: write its SR video.")
    p.add_argument("package", help="package folder (holds manifest.json), or the http(s):// URL of a segmented one")
    p.add_argument("-o", "--output", required=True, help="SR video to write: .mp4 (x264), or .mkv with --lossless")
    p.add_argument("--runtime", choices=RUNTIMES, default=None, help="default: the manifest's (as evaluated)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto: CUDA when present)")
    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help="bf16: torch runtime only; auto: bf16 with the torch runtime where the device has native "
                        "bf16 matrix units, else fp32 (default: the manifest's)")
    p.add_argument("--pad", type=int, default=None,
                   help="LR pixels of context per patch (default: the manifest's, as evaluated by the server)")
    p.add_argument("--lossless", action="store_true", help="write FFV1 (RGB, bit-exact frames) instead of x264")
    p.add_argument("--crf", type=int, default=18, help="x264 quality of the output (default 18)")
    p.add_argument("--preset", default="veryfast", help="x264 preset of the output (default veryfast)")
    p.add_argument("--base-dir", default=None,
                   help="folder of the resident bases installed with the player (packages that name a base)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--start", type=float, default=None, help="play from this second (a segmented package)")
    p.add_argument("--duration", type=float, default=None, help="play this many seconds (a segmented package)")
    p.add_argument("--bandwidth", type=float, default=None,
                   help="kbit/s: pace the client's own fetching, as a viewer's link would (a segmented package)")
    return p


def check_output(path: Path, lossless: bool) -> None:
    suffix = ".mkv" if lossless else ".mp4"
    if path.suffix.lower() != suffix:
        raise InputError(f"{path}: the output must end in {suffix}" + ("" if lossless else " (.mkv with --lossless)"))
    if not path.parent.is_dir():
        raise InputError(f"{path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a video file; give the file to write")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"{path}: cannot write there (permission denied)")


class Progress:
    """Counts, hashes and reports the frames on their way to the encoder."""

    def __init__(self, frames, total: int, out=None):
        self.frames, self.total, self.out = frames, total, sys.stderr if out is None else out
        self.count, self.digest, self.start = 0, hashlib.sha256(), time.perf_counter()

    def __iter__(self):
        for frame in self.frames:
            self.digest.update(frame.tobytes())
            self.count += 1
            if self.count % 10 == 0 or self.count == self.total:
                print(f"\rframe {self.count}/{self.total}  {self.fps():.1f} fps", end="", file=self.out, flush=True)
            yield frame
        print(file=self.out)

    def fps(self) -> float:
        return self.count / max(time.perf_counter() - self.start, 1e-9)


def play(package_path, output, *, runtime=None, device="auto", precision=None, pad=None, lossless=False,
         crf=18, preset="veryfast", base_dir=None, threads=1, start=None, duration=None, bandwidth=None) -> dict:
    output = Path(output)
    check_output(output, lossless)
    if start is not None or duration is not None or bandwidth is not None or "://" in str(package_path):
        return _play_stream(package_path, output, runtime=runtime, device=device, precision=precision, pad=pad,
                            lossless=lossless, crf=crf, preset=preset, base_dir=base_dir, threads=threads,
                            start=start or 0.0, duration=duration, bandwidth=bandwidth)
    package = open_package(package_path, base_dir=base_dir)
    m = package.manifest
    settings = playback(m, device, runtime=runtime, precision=precision, pad=pad)
    frames = Progress(upscale(package, device=device, threads=threads, **settings), m["frames"])
    return _written(frames, output, m, settings, lossless, crf, preset, threads)


def _play_stream(location, output, *, start, duration, bandwidth, lossless, crf, preset, threads, **player) -> dict:
    from .streaming import play_span

    m, span, sr = play_span(str(location), start=start, duration=duration, bandwidth_kbps=bandwidth,
                            threads=threads, **player)
    settings = playback(m, player["device"], runtime=player["runtime"], precision=player["precision"],
                        pad=player["pad"])
    frames = Progress(sr, span.end - span.first)
    done = _written(frames, output, m, settings, lossless, crf, preset, threads)
    return {**done, "first_frame": span.first, "segments": len(span.segments),
            "bytes_before_first_frame": span.bytes_before_first_frame, "bytes": span.bytes,
            "seconds_to_first_frame": span.seconds_to_first_frame}


def _written(frames, output: Path, m: dict, settings: dict, lossless: bool, crf, preset, threads) -> dict:
    if lossless:
        stream.encode_lossless(frames, output, fps=m["fps"], threads=threads)
    else:
        stream.encode(frames, output, fps=m["fps"], encoder="libx264", preset=preset, crf=crf, threads=threads)
    return {"frames": frames.count, "fps": frames.fps(), "sha256": frames.digest.hexdigest(),
            "size": m["hr_size"], "output": str(output), "playback": settings}


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        done = play(args.package, args.output, runtime=args.runtime, device=args.device, precision=args.precision,
                    pad=args.pad, lossless=args.lossless, crf=args.crf, preset=args.preset, base_dir=args.base_dir,
                    threads=args.threads, start=args.start, duration=args.duration, bandwidth=args.bandwidth)
    except InputError as err:
        print(f"stdo play: error: {err}", file=sys.stderr)
        return 1
    how = done["playback"]
    print(f"wrote {done['output']}: {done['frames']} frames of {done['size'][0]}x{done['size'][1]} at "
          f"{done['fps']:.1f} fps ({how['runtime']} {how['precision']}, pad {how['pad']}); "
          f"frames sha256 {done['sha256']}")
    if "segments" in done:
        print(f"streamed from frame {done['first_frame']}: {done['segments']} segments, {done['bytes']} bytes fetched, "
              f"{done['bytes_before_first_frame']} before the first frame, which came after "
              f"{done['seconds_to_first_frame']:.2f} s")
    return 0
