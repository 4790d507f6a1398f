"""What a viewer waits, measured against a real server: a results folder's streams (the default run builds
them: `codec.segment_seconds`) served by nginx, each played from its first frame by `stdo play`'s streaming
client with its own fetching paced to each link rate (`--bandwidth`), beside the wait that `viewer.json`
computes from the bytes alone (transfer time only: no round trips, no decoding, no model loading).

Measured: the seconds from the client's first request to its first SR frame, and the bytes it fetched before
it; "unpaced" is the same over the loopback at full speed (what the client itself adds: requests, checks,
model loading, decoding and super-resolving the first block of frames).

    python benchmarks/startup.py [--results results] [--rate crf24] [--kbps 1000 3000 10000] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd

from stdo.delivery.serve import nginx_config
from stdo.delivery.streaming import play_span
from stdo.infer import machine_line
from stdo.report.document import Table, markdown


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root: Path, workdir: Path) -> tuple[subprocess.Popen, str]:
    """nginx serving `root` on a free loopback port, once it answers."""
    port, exe = free_port(), shutil.which("nginx") or "/usr/sbin/nginx"
    (workdir / "nginx.conf").write_text(nginx_config(root, port, workdir))
    proc = subprocess.Popen([exe, "-c", str(workdir / "nginx.conf"), "-p", str(workdir)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"nginx did not answer on port {port}")


def first_frame(url: str, base_dir: Path, kbps: float | None, threads: int) -> tuple[int, float]:
    """(bytes fetched before the first frame, seconds to it) of one streaming client started at 0 s."""
    _, span, frames = play_span(url, duration=0.04, base_dir=base_dir, bandwidth_kbps=kbps, threads=threads)
    for _ in frames:
        break
    frames.close()
    return span.bytes_before_first_frame, span.seconds_to_first_frame


def rows(results: Path, server: str, rate: str, kbps: list[float], threads: int):
    for viewer in sorted(results.glob(f"*/x*/*/{rate}/stream/viewer.json")):
        computed = json.loads(viewer.read_text())
        url = f"{server}/{viewer.parent.relative_to(results).as_posix()}"
        unpaced_bytes, unpaced = first_frame(url, results / "bases", None, threads)
        row = {"video": computed["video"], "scale": f"x{computed['scale']}", "method": computed["method"],
               "bytes before the first frame": f"{unpaced_bytes:,}", "unpaced (s)": f"{unpaced:.2f}"}
        for rate_kbps in kbps:
            fetched, measured = first_frame(url, results / "bases", rate_kbps, threads)
            assert fetched == unpaced_bytes == computed["startup_bytes"], (viewer, fetched, computed["startup_bytes"])
            row[f"{rate_kbps / 1000:g} Mbit/s: computed / measured (s)"] = \
                f"{computed['startup_seconds'][str(int(rate_kbps))]:.2f} / {measured:.2f}"
        yield row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--rate", default="crf24", help="the rate point whose packages to stream")
    ap.add_argument("--kbps", type=float, nargs="+", default=[1000, 3000, 10000])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    print(machine_line("auto"))
    with tempfile.TemporaryDirectory(prefix="stdo-startup-") as work:
        proc, server = serve(args.results.resolve(), Path(work))
        try:
            table = pd.DataFrame(list(rows(args.results.resolve(), server, args.rate, args.kbps, args.threads)))
        finally:
            proc.terminate()
            proc.wait()
    if table.empty:
        raise SystemExit(f"{args.results}: no */x*/*/{args.rate}/stream/viewer.json (a run with segment_seconds)")
    print(f"{args.results}, rate point {args.rate}, served by nginx on the loopback, first frame of each stream")
    print(markdown([Table(table)]), end="")


if __name__ == "__main__":
    main()
