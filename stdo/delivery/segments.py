"""Stage: a package as a stream (DASH), for clients that fetch it over HTTP as they play and seek.

The streaming folder holds the package itself (every file, so it still plays whole) and beside it:

- the LR stream as standard DASH: `stream.mpd`, an initialisation segment and fragmented-MP4 media
  segments of about `seconds` each (cut at keyframes: `codec.segment_seconds` forces one at every
  segment start; where the stream has none, a segment runs to the next keyframe), read by ffmpeg and
  any DASH player as a normal stream;
- for a package routed by a chunk map (STDO's chunks span every frame), the map cut by segment, so a
  client fetches only the part of the frames it plays;
- `segments.json`: per segment, its media file, first frame and frame count, its map part, and the
  models it needs (a time chunk needs only its own chunk's model; STDO's chunks usually need all);
- `viewer.json`: the bytes a viewer fetches before the first frame and to seek to the middle, against the
  whole package, and the startup delay at 1, 3 and 10 Mbit/s.

The segments' frame ranges are read back from the segments themselves (each decodable from the
initialisation segment and itself alone), not predicted from the muxer's settings."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import av
import numpy as np

from ..errors import InputError
from ..io import atomic_dir
from .manifest import MANIFEST, SEGMENTS, SEGMENTS_FORMAT, SEGMENTS_VERSION, encode_map, file_entry, open_package
from .player import Router

MPD, INIT = "stream.mpd", "init.m4s"
VIEWER = "viewer.json"  # what a viewer waits (the server's bookkeeping; no client fetches it)


def segment(package_dir, out_dir, *, seconds: float = 2.0) -> dict:
    """Write the streaming folder of the package at `package_dir` to `out_dir` (whole, or not at all)."""
    package = open_package(package_dir, verify=True, need_base=False)  # the base is the client's
    if package.stream.suffix != ".mp4":
        raise InputError(f"{package_dir}: its LR stream ({package.stream.name}) is lossless FFV1, which DASH "
                         "does not carry; segment the packages of the lossy rate points")
    if not seconds > 0:
        raise InputError(f"seconds: {seconds!r}; a segment lasts a positive number of seconds")
    with atomic_dir(out_dir) as folder:
        for name in [MANIFEST, *package.manifest["files"]]:
            os.link(package.path(name), folder / name)
        _dash(package.stream, folder, seconds)
        index = _index(package, folder, seconds)
        (folder / SEGMENTS).write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
        sizes = [(folder / name).stat().st_size for name in (MANIFEST, SEGMENTS)]
        wait = viewer_wait(index, package.manifest, *sizes)
        (folder / VIEWER).write_text(json.dumps(wait, indent=1, sort_keys=True) + "\n")
    return index


def _dash(stream_path: Path, folder: Path, seconds: float) -> None:
    """Remux (no re-encoding) the package's MP4 into DASH segments in `folder`."""
    options = {"seg_duration": f"{seconds:g}", "use_template": "1", "use_timeline": "1", "single_file": "0",
               "init_seg_name": INIT, "media_seg_name": "seg-$Number%05d$.m4s", "remove_at_exit": "0",
               "dash_segment_type": "mp4"}  # fragmented MP4 for every codec (FFmpeg picks WebM for VP9)
    with av.open(str(stream_path)) as source, av.open(str(folder / MPD), "w", format="dash",
                                                      options=options) as dash:
        video = source.streams.video[0]
        out = dash.add_stream_from_template(video, opaque=True)  # a copy of the stream: no encoder to open
        for packet in source.demux(video):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = out
            dash.mux(packet)
        hevc = video.codec_context.name == "hevc" and video.codec_context.extradata
    if hevc:  # FFmpeg's DASH muxer names H.264, VP9 and AV1 streams in the MPD, not HEVC: players need it
        mpd = folder / MPD
        mpd.write_text(mpd.read_text().replace('codecs=""', f'codecs="{hevc_codecs(bytes(hevc))}"', 1))


def hevc_codecs(hvcc: bytes) -> str:
    """The RFC 6381 `codecs` string of an HEVC stream from its hvcC box (ISO/IEC 14496-15, E.3), e.g. hvc1.1.6.L93.B0:
    profile space and profile, the compatibility flags bit-reversed in hex, tier and level, the constraint bytes
    without trailing zero bytes."""
    if len(hvcc) < 13 or hvcc[0] != 1:
        raise InputError("the HEVC stream has no hvcC configuration to name its codec by")
    space, tier, profile = ("", "A", "B", "C")[hvcc[1] >> 6], "LH"[hvcc[1] >> 5 & 1], hvcc[1] & 0x1F
    compat = int(f"{int.from_bytes(hvcc[2:6], 'big'):032b}"[::-1], 2)
    constraints = list(hvcc[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    return ".".join(["hvc1", f"{space}{profile}", f"{compat:X}", f"{tier}{hvcc[12]}", *(f"{b:X}" for b in constraints)])


def media_segments(folder: Path) -> list[Path]:
    return sorted(folder.glob("seg-*.m4s"))


def frames_in(init: bytes, media: Path) -> int:
    """Decodable frames of one media segment played from the initialisation segment and itself alone."""
    with av.open(io.BytesIO(init + media.read_bytes())) as container:
        return sum(1 for _ in container.decode(video=0))


def _index(package, folder: Path, seconds: float) -> dict:
    m = package.manifest
    router, init = Router(package), (folder / INIT).read_bytes()
    chunk_model = m["routing"]["chunk_model"]
    segments, first = [], 0
    for i, media in enumerate(media_segments(folder), start=1):
        count = frames_in(init, media)
        chunks = router.chunks(first, count)
        entry = {"media": media.name, **file_entry(media), "first_frame": first, "frames": count,
                 "start_seconds": first / m["fps"],
                 "models": sorted({chunk_model[c][0] for c in np.unique(chunks).tolist()})}
        if router.by == "map":
            part = folder / f"map-{i:05d}.bin"
            part.write_bytes(encode_map(chunks, m["routing"]["k"]))
            entry["map"] = {"file": part.name, **file_entry(part)}
        segments.append(entry)
        first += count
    if first != m["frames"]:
        raise InputError(f"{package.stream}: its DASH segments hold {first} frames, the manifest says {m['frames']}")
    return {"format": SEGMENTS_FORMAT, "version": SEGMENTS_VERSION, "manifest": MANIFEST, "mpd": MPD,
            "init": {"file": INIT, **file_entry(folder / INIT)}, "segment_seconds": seconds,
            "segments": segments}


LINKS_KBPS = (1000, 3000, 10000)  # a viewer's link: 1, 3 and 10 Mbit/s


def viewer_wait(index: dict, manifest: dict, manifest_bytes: int, index_bytes: int) -> dict:
    """What a viewer fetches before a frame can play: at the start, and on seeking to the middle of the video from
    nothing (the manifest, the segment index, the init segment, the segment, its map part, the models it needs;
    a resident base is installed with the player), against the whole package a non-streaming client downloads;
    and the startup delay those bytes take on each link of LINKS_KBPS (transfer time only, no round trips)."""
    files = manifest["files"]

    def before(segment: dict) -> int:
        models = sum(files[manifest["models"][i]["file"]]["bytes"] for i in segment["models"]
                     if manifest["models"][i]["file"])
        return manifest_bytes + index_bytes + index["init"]["bytes"] + segment["bytes"] + \
            segment.get("map", {}).get("bytes", 0) + models

    middle = manifest["frames"] // 2
    seek = next(s for s in index["segments"] if s["first_frame"] + s["frames"] > middle)
    startup, whole = before(index["segments"][0]), manifest_bytes + sum(e["bytes"] for e in files.values())
    about = manifest.get("about", {})
    return {**{k: about.get(k) for k in ("video", "method", "rate")}, "scale": manifest["scale"],
            "startup_bytes": startup, "seek_middle_bytes": before(seek), "whole_package_bytes": whole,
            "startup_seconds": {str(kbps): startup * 8 / (kbps * 1000) for kbps in LINKS_KBPS},
            "whole_package_seconds": {str(kbps): whole * 8 / (kbps * 1000) for kbps in LINKS_KBPS}}
