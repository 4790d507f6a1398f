"""The streaming client: a span of a segmented package (`stdo.delivery.segments`), from a folder or over HTTP.

It fetches the manifest and the segment index, then only what the span needs, in the order it plays: the
initialisation segment, and per segment its media, the part of the chunk map and the models not yet held;
then decodes each segment from the initialisation segment and itself alone and super-resolves the span's
frames with the player's own loop (`player.super_resolve`, blocks counted from the video's first frame), so
the frames equal those of the whole package's playback over the same span."""
from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import manifest_schema, stream
from .fetch import Fetcher
from .manifest import (
    MANIFEST,
    MAX_MANIFEST_BYTES,
    SEGMENTS,
    SEGMENTS_FORMAT,
    SEGMENTS_VERSION,
    Package,
    decode_map,
    find_base,
    parse_manifest,
)
from .player import grid_of, load_models, playback, super_resolve

MAX_INDEX_BYTES = 64 << 20


@dataclass
class Span:
    """What a span of a stream needs and what it cost: frames [first, end) of the video, the segments that
    hold them, the bytes fetched before the first frame could be decoded, and in all."""

    first: int
    end: int
    segments: list = field(default_factory=list)
    bytes_before_first_frame: int = 0
    bytes: int = 0
    seconds_to_first_frame: float | None = None  # from the first request to the first SR frame, measured


def open_stream(location: str, workdir: Path, base_dir=None, bandwidth_kbps: float | None = None):
    """(fetcher, package without its files yet, segment index) of a streaming folder or URL."""
    fetcher = Fetcher(location, bandwidth_kbps)
    path = fetcher.get(MANIFEST, workdir / MANIFEST, max_bytes=MAX_MANIFEST_BYTES)
    manifest = parse_manifest(path)
    manifest_schema.check(manifest, fetcher.where(MANIFEST))
    try:
        path = fetcher.get(SEGMENTS, workdir / SEGMENTS, max_bytes=MAX_INDEX_BYTES)
    except InputError as err:
        raise InputError(f"{err}: not a segmented package (stdo segment makes one; a whole package plays without "
                         "--start, --duration and --bandwidth)") from None
    index = read_index(path, fetcher.where(SEGMENTS), manifest)
    base = find_base(location, manifest["base"], base_dir, True) if "base" in manifest else None
    return fetcher, Package(workdir, manifest, base), index


def read_index(path: Path, where: str, manifest: dict) -> dict:
    """The segment index, checked against its manifest: one InputError naming `where` and the field."""
    try:
        index = json.loads(path.read_bytes())
    except ValueError as err:
        raise InputError(f"{where}: not valid JSON ({err})") from None
    if not isinstance(index, dict) or index.get("format") != SEGMENTS_FORMAT or index.get("version") != \
            SEGMENTS_VERSION:
        raise InputError(f"{where}: not a {SEGMENTS_FORMAT} index of version {SEGMENTS_VERSION}")
    if not _a_file(index.get("init"), "file"):
        raise InputError(f"{where}: init: not a file entry (file, bytes, sha256)")
    by_map, first = manifest["routing"]["by"] == "map", 0
    for i, s in enumerate(index.get("segments") or [None]):
        ok = _a_file(s, "media") and s.get("first_frame") == first and _count(s.get("frames")) \
            and isinstance(s.get("models"), list) \
            and all(_count(m + 1) and m < len(manifest["models"]) for m in s["models"]) \
            and (not by_map or _a_file(s.get("map"), "file"))
        if not ok:
            raise InputError(f"{where}: segments.{i}: not a segment that follows the one before it (its media "
                             "file, bytes, sha256, first_frame, frames, models" + (", map part)" if by_map else ")"))
        first += s["frames"]
    if first != manifest["frames"]:
        raise InputError(f"{where}: segments: {first} frames, the manifest says {manifest['frames']}")
    return index


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _a_file(entry, key: str) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get(key), str) and _count(entry.get("bytes")) \
        and isinstance(entry.get("sha256"), str)


def span_of(index: dict, fps: float, frames: int, start: float, duration: float | None) -> Span:
    first = int(round(start * fps))
    end = frames if duration is None else min(frames, first + max(1, int(round(duration * fps))))
    if not 0 <= first < frames:
        raise InputError(f"--start {start}: the video lasts {frames / fps:g} s ({frames} frames)")
    if duration is not None and not duration > 0:
        raise InputError(f"--duration {duration}: give a positive number of seconds")
    chosen = [s for s in index["segments"] if s["first_frame"] < end and s["first_frame"] + s["frames"] > first]
    return Span(first, end, chosen)


def play_span(location: str, *, start: float = 0.0, duration: float | None = None, base_dir=None, runtime=None,
              device: str = "cpu", precision=None, pad=None, threads: int = 1,
              bandwidth_kbps: float | None = None) -> tuple[dict, Span, Iterator[np.ndarray]]:
    """(manifest, span, its SR frames): the frames are produced as the segments arrive."""
    workdir, began = tempfile.TemporaryDirectory(prefix="stdo-stream-"), time.perf_counter()
    fetcher, package, index = open_stream(location, Path(workdir.name), base_dir, bandwidth_kbps)
    m = package.manifest
    span = span_of(index, m["fps"], m["frames"], start, duration)
    settings = playback(m, device, runtime=runtime, precision=precision, pad=pad)

    def frames() -> Iterator[np.ndarray]:
        with workdir:
            init = fetcher.get(index["init"]["file"], Path(workdir.name) / "init", index["init"]).read_bytes()
            runners = [None] * len(m["models"])
            for s in span.segments:
                media = fetcher.get(s["media"], Path(workdir.name) / s["media"], s).read_bytes()
                chunks_of = _chunks_of(fetcher, package, s, Path(workdir.name))
                runners = _with_models(fetcher, package, s["models"], runners, settings, device, threads)
                if s is span.segments[0]:
                    span.bytes_before_first_frame = fetcher.bytes
                lr = stream.decode_bytes(init + media, fetcher.where(s["media"]))
                sr = super_resolve(m, lr, s["first_frame"], chunks_of, runners, settings, fetcher.where(s["media"]))
                for i, frame in enumerate(sr, start=s["first_frame"]):
                    if span.first <= i < span.end:
                        if span.seconds_to_first_frame is None:
                            span.seconds_to_first_frame = time.perf_counter() - began
                        yield frame
                span.bytes = fetcher.bytes

    return m, span, frames()


def _with_models(fetcher, package, needed, runners, settings, device, threads) -> list:
    """The runners with every model of `needed` loaded (fetching its file first); held ones are kept."""
    missing = {i for i in needed if runners[i] is None}
    for i in sorted(missing):
        name = package.manifest["models"][i]["file"]
        if name:
            fetcher.get(name, package.path(name), package.manifest["files"][name])
    if not missing:
        return runners
    loaded = load_models(package, settings["runtime"], device, settings["precision"], threads, needed=missing)
    return [old if old is not None else new for old, new in zip(runners, loaded)]


def _chunks_of(fetcher, package, s: dict, workdir: Path):
    """The chunk of every patch of a segment's frames: its part of the chunk map, or the time chunks."""
    m, per_frame = package.manifest, grid_of(package.manifest).per_frame
    routing = m["routing"]
    if routing["by"] != "map":
        starts = np.asarray(routing.get("frame_starts") or [0])
        return lambda first, count: np.searchsorted(
            starts, np.repeat(np.arange(first, first + count), per_frame), side="right") - 1
    path = fetcher.get(s["map"]["file"], workdir / s["map"]["file"], s["map"])
    part = decode_map(path.read_bytes(), s["frames"] * per_frame, routing["k"], fetcher.where(s["map"]["file"]))
    offset = s["first_frame"] * per_frame
    return lambda first, count: part[first * per_frame - offset:(first + count) * per_frame - offset]
