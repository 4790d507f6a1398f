"""Ingest against decoding alone, and against the three-pass ingest it replaced, on real video.

Clips: the bundled one (1280x720, 132 frames) and a 1080p one made from it (each frame upscaled with
OpenCV's bicubic, looped to --seconds at 25 fps, libx264 crf 18). For each, in the same run and with
the same threads, it measures:
- decode alone: OpenCV read + cvtColor to RGB over every frame, nothing written (the ceiling);
- old ingest: `stdo/ingest.py` as of OLD_COMMIT (count by decoding, decode into hr.npy, read hr.npy
  back to downscale), loaded from a temporary copy (needs git and the repository's history);
- new ingest: `stdo.ingest.ingest` (count from packets, decode once, write and downscale each batch);
and checks that old and new wrote byte-identical hr.npy and lr_x{s}.npy (SHA-256). Wall seconds,
frames/s and CPU seconds (this process, all threads: less disturbed by other jobs than wall time)
of the fastest of --repeats runs are printed with the machine's load average. The clip and the
outputs go to a temporary folder (--tmp), each output deleted after its run.

    python benchmarks/ingest_speed.py [--threads 2] [--seconds 15] [--scales 4] [--repeats 1] [--tmp DIR]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
from clips import encode_hd_clip

from stdo import ingest as new_ingest
from stdo.delivery.stream import probe
from stdo.infer import machine_line
from stdo.io import sha256_files
from stdo.sources import bundled_clip

OLD_COMMIT = "f1a5844286c73db4b378534d0d1d9b03c2b674aa"  # the last commit with the three-pass ingest
REPO = Path(__file__).resolve().parents[1]
GRIDS = {2: (20, 10), 3: (10, 6), 4: (10, 5)}


def old_module(tmp: Path):
    """stdo/ingest.py as of OLD_COMMIT, imported from a copy (its relative imports made absolute)."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{OLD_COMMIT}:stdo/ingest.py"],
                            capture_output=True, text=True, check=True).stdout
    path = tmp / "ingest_old.py"
    path.write_text(source.replace("from .errors", "from stdo.errors").replace("from .io", "from stdo.io"))
    spec = importlib.util.spec_from_file_location("ingest_old", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def decode_alone(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    frames = 0
    while (frame := cap.read()[1]) is not None:
        cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        frames += 1
    cap.release()
    return frames


def timed(run) -> tuple[float, float]:
    """Wall-clock seconds of run(), and the CPU seconds of this process (all its threads) over it."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def ingest_runs(ingest, clip: Path, out: Path, scales, threads: int, repeats: int) -> tuple[tuple, list[str]]:
    """The fastest of `repeats` ingests, and the SHA-256 of the arrays written. Each run's output is
    deleted before the next: runs beside the files of earlier ones were up to a third slower here."""
    times = []
    for _ in range(repeats):
        times.append(timed(lambda: ingest(clip, out, scales, {s: GRIDS[s] for s in scales}, threads=threads)))
        digests = [sha256_files([out / f"{key}.npy"]) for key in ["hr"] + [f"lr_x{s}" for s in scales]]
        shutil.rmtree(out)
    return min(times), digests


def measure(name: str, clip: Path, old, scales, threads: int, repeats: int, tmp: Path) -> list[str]:
    frames, info = decode_alone(clip), probe(clip)
    times = {"decode alone": min(timed(lambda: decode_alone(clip)) for _ in range(repeats))}
    times["old ingest"], old_digests = ingest_runs(old.ingest, clip, tmp / "out", scales, threads, repeats)
    times["new ingest"], new_digests = ingest_runs(new_ingest.ingest, clip, tmp / "out", scales, threads, repeats)
    lines = [f"{name:8s} {info['width']}x{info['height']}, {frames} frames"]
    lines += [f"  {what:14s} {wall:8.2f} {frames / wall:9.1f} {cpu:8.2f}" for what, (wall, cpu) in times.items()]
    (decode, _), (old_s, _), (new_s, _) = times.values()
    lines.append(f"  new/decode alone {new_s / decode:.2f}, old/new {old_s / new_s:.2f}, "
                 f"old and new arrays byte-identical: {'yes' if old_digests == new_digests else 'NO'}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="ingest's threads (the workflow's default: 2)")
    ap.add_argument("--seconds", type=float, default=15, help="length of the 1080p clip")
    ap.add_argument("--scales", type=int, nargs="+", default=[4], choices=sorted(GRIDS))
    ap.add_argument("--repeats", type=int, default=1, help="best of this many runs of each")
    ap.add_argument("--tmp", default=None, help="folder for the clip and the outputs (default: the system's)")
    args = ap.parse_args()
    print(machine_line())
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        tmp = Path(tmp)
        old = old_module(tmp)
        start = time.perf_counter()
        hd = encode_hd_clip(tmp / "bunny1080.mp4", args.seconds, args.threads)
        print(f"1080p clip: {args.seconds:g} s, libx264 crf 18, encoded in {time.perf_counter() - start:.0f} s; "
              f"scales {args.scales}, {args.threads} thread(s), best of {args.repeats}; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"  {'':14s} {'wall s':>8s} {'frames/s':>9s} {'cpu s':>8s}")
        for name, clip in (("bundled", bundled_clip()), ("1080p", hd)):
            print("\n".join(measure(name, clip, old, args.scales, args.threads, args.repeats, tmp)), flush=True)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
