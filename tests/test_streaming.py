"""Streaming on 30 real frames: a package as a DASH stream (stdo.delivery.segments: segments cut at the forced
keyframes, each decodable alone, the MPD read by the ffmpeg CLI as a normal stream, the chunk map cut by segment,
the models each segment needs) and the client that plays a span of it (stdo.delivery.streaming) from a folder,
Python's http.server and nginx, including servers that fail."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pandas as pd
import pytest
from conftest import WINDOW, write_png

from stdo import codec, models, package
from stdo.cluster import cluster
from stdo.delivery import segments, stream, streaming
from stdo.delivery.manifest import open_package
from stdo.delivery.player import upscale
from stdo.delivery.serve import nginx_config
from stdo.errors import InputError
from stdo.ingest import ingest
from stdo.label import label
from stdo.sources import bundled_clip

SMALL = {"features": [8, 8, 4]}
META = {"arch": "espcn", "scale": 4, "arch_kwargs": SMALL}
FPS, FRAMES, SECONDS = 25, 30, 0.4


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    """{split: package folder} of 30 frames of the bundled clip (a 256x160 window) at x4, LR through x264 with a
    keyframe every 10 frames (segment_seconds 0.4 at 25 frames/s): STDO's three chunks routed by a map, two time
    chunks (frames 0-14 and 15-29)."""
    root = tmp_path_factory.mktemp("segments")
    cap = cv2.VideoCapture(str(bundled_clip()))
    for i in range(FRAMES):
        write_png(root / "frames" / f"frame_{i + 1}.png", cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB)[WINDOW])
    cap.release()
    ingest(root / "frames", root, [4], {4: (4, 2)})
    models.save_checkpoint(models.build("bicubic", 4), root / "bicubic.pt", {"arch": "bicubic", "scale": 4})
    label(root / "lr_x4.npy", root / "hr.npy", root / "bicubic.pt", root / "patches.parquet", scale=4, grid=[4, 2],
          eval_every=4)
    info = codec.encode_lr(root / "lr_x4.npy", root / "meta.json", root / "crf30.mp4", root / "crf30.json",
                           rate="crf30", encoder="libx264", preset="ultrafast", fps=FPS, segment_seconds=SECONDS)
    assert info["keyframe_every"] == 10
    built = {}
    for split, k in (("stdo", 3), ("temporal", 2)):
        cluster(root / "patches.parquet", root / f"{split}.parquet", root / f"{split}.json", split=split, k=k)
        for c in range(k):
            torch_model = models.build("espcn", 4, **SMALL)
            models.save_checkpoint(torch_model, root / f"{split}{c}.pt", META)
        built[split] = root / split / "package"
        package.build(root / "crf30.mp4", root / "crf30.json", root / "patches.parquet", built[split], scale=4,
                      model_paths=[root / f"{split}{c}.pt" for c in range(k)], chunks_path=root / f"{split}.parquet",
                      meta_path=root / "meta.json", info={"method": split, "rate": "crf30"})
    return built


def test_segments_start_at_the_forced_keyframes_and_each_plays_alone(packages, tmp_path):
    index = segments.segment(packages["stdo"], tmp_path / "stream", seconds=SECONDS)
    whole = np.stack(list(stream.decode(packages["stdo"] / "lr.mp4")))
    assert [(s["first_frame"], s["frames"]) for s in index["segments"]] == [(0, 10), (10, 10), (20, 10)]
    init = (tmp_path / "stream" / index["init"]["file"]).read_bytes()
    for s in index["segments"]:
        media = (tmp_path / "stream" / s["media"]).read_bytes()
        alone = np.stack(list(stream.decode_bytes(init + media, s["media"])))
        assert np.array_equal(alone, whole[s["first_frame"]:s["first_frame"] + s["frames"]])


def test_the_mpd_is_a_normal_stream_to_the_ffmpeg_cli(packages, tmp_path):
    segments.segment(packages["stdo"], tmp_path / "stream", seconds=SECONDS)
    lr = open_package(packages["stdo"]).manifest["lr_size"]
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(tmp_path / "stream" / "stream.mpd"),
                          "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, lr[1], lr[0], 3)
    assert np.array_equal(frames, np.stack(list(stream.decode(packages["stdo"] / "lr.mp4"))))  # every frame, once


def test_the_chunk_map_is_cut_by_segment_and_each_segment_names_the_models_it_needs(packages, tmp_path):
    index = segments.segment(packages["stdo"], tmp_path / "stdo", seconds=SECONDS)
    whole = open_package(packages["stdo"]).chunk_map()
    parts = [np.frombuffer(zlib.decompress((tmp_path / "stdo" / s["map"]["file"]).read_bytes()), np.uint8)
             for s in index["segments"]]
    assert np.array_equal(np.concatenate(parts), whole)
    assert [s["models"] for s in index["segments"]] == [sorted(set(p.tolist())) for p in parts]
    # time chunks: each segment needs only the chunks its frames fall in
    index = segments.segment(packages["temporal"], tmp_path / "temporal", seconds=SECONDS)
    starts = open_package(packages["temporal"]).manifest["routing"]["frame_starts"]
    assert starts == [0, 15] and [s["models"] for s in index["segments"]] == [[0], [0, 1], [1]]
    assert all("map" not in s for s in index["segments"])


def test_the_streaming_folder_is_still_the_whole_package(packages, tmp_path):
    index = segments.segment(packages["temporal"], tmp_path / "stream", seconds=SECONDS)
    assert open_package(tmp_path / "stream").manifest == open_package(packages["temporal"]).manifest
    on_disk = json.loads((tmp_path / "stream" / "segments.json").read_text())
    assert on_disk == index and index["format"] == "stdo-segments"


def test_a_lossless_package_or_a_bad_length_is_refused_and_nothing_is_written(packages, tmp_path):
    lossless, root = tmp_path / "lossless", packages["stdo"].parent.parent
    codec.encode_lr(root / "lr_x4.npy", root / "meta.json", tmp_path / "lr.mkv", tmp_path / "lr.json",
                    rate="lossless", fps=FPS)
    package.build(tmp_path / "lr.mkv", tmp_path / "lr.json", root / "patches.parquet", lossless, scale=4,
                  meta_path=root / "meta.json", info={"method": "bicubic", "rate": "lossless"})
    with pytest.raises(InputError, match="lossless FFV1, which DASH does not carry"):
        segments.segment(lossless, tmp_path / "out", seconds=2)
    with pytest.raises(InputError, match="seconds: 0"):
        segments.segment(packages["stdo"], tmp_path / "out", seconds=0)
    with pytest.raises(InputError, match="not a package"):
        segments.segment(tmp_path, tmp_path / "out", seconds=2)
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def streams(packages, tmp_path_factory):
    """{split: streaming folder} of both packages."""
    root = tmp_path_factory.mktemp("streams")
    for split, folder in packages.items():
        segments.segment(folder, root / split, seconds=SECONDS)
    return {split: root / split for split in packages}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


@pytest.fixture(scope="module")
def server(streams):
    """A real HTTP server (Python's http.server) on the loopback address, serving the streaming folders."""
    root, port = next(iter(streams.values())).parent, free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory",
                             str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait()


def whole(folder) -> np.ndarray:
    return np.stack(list(upscale(open_package(folder))))


@pytest.mark.parametrize("split", ["stdo", "temporal"])
@pytest.mark.parametrize("start, duration, frames", [(0.4, 0.4, (10, 20)), (0.2, 0.6, (5, 20)), (1.0, None, (25, 30))])
def test_a_span_plays_the_frames_the_whole_package_plays_there(streams, packages, split, start, duration, frames):
    m, span, sr = streaming.play_span(str(streams[split]), start=start, duration=duration)
    assert (span.first, span.end) == frames
    assert np.array_equal(np.stack(list(sr)), whole(packages[split])[frames[0]:frames[1]])


def test_over_http_the_client_fetches_only_what_the_span_needs(streams, packages, server):
    _, span, sr = streaming.play_span(f"{server}/temporal", start=0.0, duration=0.4)
    assert np.array_equal(np.stack(list(sr)), whole(packages["temporal"])[:10])
    index = json.loads((streams["temporal"] / "segments.json").read_text())
    manifest = json.loads((streams["temporal"] / "manifest.json").read_text())
    model0 = manifest["files"][manifest["models"][0]["file"]]["bytes"]
    needed = sum((streams["temporal"] / name).stat().st_size for name in ("manifest.json", "segments.json")) \
        + index["init"]["bytes"] + index["segments"][0]["bytes"] + model0
    assert span.bytes == span.bytes_before_first_frame == needed  # not the second time chunk's model, nor the LR mp4


def test_the_client_plays_a_url_from_the_command_line_to_the_same_frames(streams, packages, server, tmp_path):
    out = tmp_path / "span.mkv"
    played = subprocess.run([str(Path(sys.executable).with_name("stdo")), "play", f"{server}/stdo", "--start", "0.4",
                             "--duration", "0.4", "-o", str(out), "--lossless", "--threads", "1"],
                            capture_output=True, text=True, timeout=300)
    assert played.returncode == 0, played.stderr
    expected = hashlib.sha256(whole(packages["stdo"])[10:20].tobytes()).hexdigest()
    assert f"frames sha256 {expected}" in played.stdout and "streamed from frame 10: 1 segments" in played.stdout
    assert np.array_equal(np.stack(list(stream.decode(out))), whole(packages["stdo"])[10:20])


def test_a_missing_or_changed_file_on_the_server_ends_in_one_line_naming_the_url(streams, server, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(streams["stdo"], broken)
    (broken / "seg-00002.m4s").write_bytes((broken / "seg-00002.m4s").read_bytes()[:-10])
    _, _, sr = streaming.play_span(str(broken), start=0.4, duration=0.4)
    with pytest.raises(InputError, match=r"seg-00002.m4s: .* bytes, the manifest says .* \(after 3 tries\)"):
        list(sr)
    out = tmp_path / "never.mkv"
    played = subprocess.run([str(Path(sys.executable).with_name("stdo")), "play", f"{server}/nothing-here",
                             "-o", str(out), "--lossless"], capture_output=True, text=True, timeout=300)
    assert played.returncode == 1 and not out.exists()
    assert played.stderr.strip().splitlines()[-1] == (
        f"stdo play: error: {server}/nothing-here/manifest.json: HTTP 404 File not found (after 3 tries)")


@pytest.fixture(scope="module")
def nginx(streams, tmp_path_factory):
    """nginx (Debian's) serving the streaming folders, with a /error/ location that answers 500."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(exe).exists():
        pytest.skip("nginx is not installed (CI installs nginx-light; Debian: apt-get install nginx-light)")
    work, port = tmp_path_factory.mktemp("nginx"), free_port()
    root = next(iter(streams.values())).parent
    (work / "nginx.conf").write_text(nginx_config(root, port, work, slow_kbps=200,
                                                  extra="location /error/ { return 500; }"))
    proc = subprocess.Popen([exe, "-c", str(work / "nginx.conf"), "-p", str(work)], stderr=subprocess.PIPE)
    wait_for(port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait()


def stdo_play(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("stdo")), "play", *map(str, args), "--lossless",
                           "--threads", "1"], capture_output=True, text=True, timeout=600)


def test_nginx_serves_the_stream_whole_and_slowly_to_the_same_frames(packages, nginx):
    for url in (f"{nginx}/temporal", f"{nginx}/slow/temporal"):
        _, span, sr = streaming.play_span(url, start=0.8, duration=0.4)
        assert np.array_equal(np.stack(list(sr)), whole(packages["temporal"])[20:30])


def test_eight_clients_at_once_each_get_their_own_frames(packages, nginx, tmp_path):
    spans = [(split, start) for split in ("stdo", "temporal") for start in (0.0, 0.2, 0.4, 0.8)]
    procs = [subprocess.Popen([str(Path(sys.executable).with_name("stdo")), "play", f"{nginx}/{split}", "--start",
                               str(start), "--duration", "0.4", "-o", str(tmp_path / f"{i}.mkv"), "--lossless",
                               "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, (split, start) in enumerate(spans)]
    for i, ((split, start), proc) in enumerate(zip(spans, procs)):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        first = round(start * FPS)
        assert np.array_equal(np.stack(list(stream.decode(tmp_path / f"{i}.mkv"))),
                              whole(packages[split])[first:first + 10])


def test_a_server_error_a_truncated_file_or_a_dropped_connection_ends_in_one_line(streams, nginx, tmp_path):
    out = tmp_path / "never.mkv"
    played = stdo_play(f"{nginx}/error/stdo", "-o", out)
    assert played.returncode == 1 and not out.exists()
    assert played.stderr.strip().splitlines()[-1] == (
        f"stdo play: error: {nginx}/error/stdo/manifest.json: HTTP 500 Internal Server Error (after 3 tries)")
    # a segment cut short on the server: nginx serves what it has, the client checks it against the index
    shutil.copytree(streams["stdo"], streams["stdo"].parent / "cut")
    segment = streams["stdo"].parent / "cut" / "seg-00001.m4s"
    segment.write_bytes(segment.read_bytes()[:100])
    played = stdo_play(f"{nginx}/cut", "--start", "0", "-o", out)
    assert played.returncode == 1 and not out.exists()
    assert played.stderr.strip().splitlines()[-1] == (
        f"stdo play: error: {nginx}/cut/seg-00001.m4s: 100 bytes, the manifest says "
        f"{(streams['stdo'] / 'seg-00001.m4s').stat().st_size} (truncated or changed) (after 3 tries)")
    # a server that closes the connection halfway through every file
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        stop = False

        def drop_halfway():
            while not stop:
                try:
                    connection, _ = listener.accept()
                except OSError:
                    return
                with connection:
                    connection.recv(4096)
                    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"{" * 500)

        server = threading.Thread(target=drop_halfway, daemon=True)
        server.start()
        played = stdo_play(f"http://127.0.0.1:{port}/stdo", "-o", out)
        stop = True
    assert played.returncode == 1 and not out.exists()
    assert played.stderr.strip().splitlines()[-1] == (f"stdo play: error: http://127.0.0.1:{port}/stdo/manifest.json: "
                                                      "connection closed after 500 of 1000 bytes (after 3 tries)")


def test_the_viewer_s_wait_counts_what_a_client_fetches_before_the_first_frame(streams, packages, server):
    """viewer.json's startup bytes are the bytes the streaming client really fetched before its first frame, and
    seeking to the middle costs its segment's models only; a time-chunked stream waits for one model, STDO's for
    the models its first segment's patches use."""
    for split in ("stdo", "temporal"):
        wait = json.loads((streams[split] / "viewer.json").read_text())
        _, span, sr = streaming.play_span(f"{server}/{split}", start=0.0, duration=0.04)
        list(sr)
        assert span.bytes_before_first_frame == wait["startup_bytes"] < wait["whole_package_bytes"]
        _, span, sr = streaming.play_span(f"{server}/{split}", start=0.6, duration=0.04)
        list(sr)
        assert span.bytes_before_first_frame == wait["seek_middle_bytes"]
        assert wait["startup_seconds"]["1000"] == pytest.approx(wait["startup_bytes"] * 8 / 1e6)


def test_the_workflow_streams_every_lossy_package_and_its_tables_say_what_a_viewer_waits(frames_dir, tmp_path):
    """codec.segment_seconds through the tiny workflow: every lossy package is also a DASH stream, rd.csv carries
    the viewer's wait, and the client plays a span of a stream the workflow made to the frames the server scored."""
    from tiny import TINY, snakemake, workdir

    codec_block = {**TINY["codec"], "segment_seconds": 0.1}  # 3 frames at 30 frames/s (a frames folder's rate)
    root = workdir(tmp_path, frames_dir, codec=codec_block, methods={
        "m0": TINY["methods"]["m0"], "nas": {"split": "temporal", "k": 2, "arch": "espcn", "steps": 8}})
    run = snakemake(root)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rd = pd.read_csv(root / "results" / "rd.csv")
    lossy = rd[(rd["rate"] != "lossless") & (rd["method"] != "hr_codec")]
    assert len(lossy) == 4 * 2 and lossy["startup_bytes"].gt(0).all()
    assert (lossy["startup_bytes"] < lossy["package_bytes"] + 2000).all()
    assert np.allclose(lossy["startup_s_1mbps"], lossy["startup_bytes"] * 8 / 1e6, atol=1e-4)
    comparison = (root / "results" / "comparison.md").read_text()
    assert "**Streamed: what a viewer waits" in comparison
    for row in lossy.itertuples():
        assert re.search(rf"\| {row.method} +\| {row.rate} +\| +[\d,]+ \| +{row.startup_bytes:,.0f} \|", comparison)
    nas = root / "results" / "tiny" / "x4" / "nas" / "crf30"
    index = json.loads((nas / "stream" / "segments.json").read_text())
    assert [s["frames"] for s in index["segments"]] == [3, 3]
    out = tmp_path / "span.mkv"
    played = stdo_play(nas / "stream", "--start", "0.1", "--duration", "0.1", "-o", out)
    assert played.returncode == 0, played.stderr
    expected = np.stack(list(upscale(open_package(nas / "package"))))[3:6]
    assert np.array_equal(np.stack(list(stream.decode(out))), expected)


def test_a_whole_package_asked_for_a_span_says_it_is_not_segmented(packages, tmp_path):
    out = tmp_path / "span.mkv"
    played = stdo_play(packages["stdo"], "--start", "0.4", "-o", out)
    assert played.returncode == 1 and not out.exists()
    assert played.stderr.strip().splitlines()[-1] == (
        f"stdo play: error: {packages['stdo'] / 'segments.json'}: missing from the package: not a segmented package "
        "(stdo segment makes one; a whole package plays without --start, --duration and --bandwidth)")


@pytest.mark.parametrize("change, message", [
    (lambda i: i.update(format="dash"), "not a stdo-segments index of version 1"),
    (lambda i: i["init"].pop("sha256"), "init: not a file entry"),
    (lambda i: i["segments"][1].update(first_frame=11), "segments.1: not a segment that follows"),
    (lambda i: i["segments"][0].update(models=[7]), "segments.0: not a segment that follows"),
    (lambda i: i["segments"][2].pop("map"), "segments.2: not a segment that follows"),
    (lambda i: i["segments"][0].update(bytes="many"), "segments.0: not a segment that follows"),
    (lambda i: i["segments"].pop(), "segments: 20 frames, the manifest says 30"),
])
def test_a_bad_segment_index_is_refused_in_one_line_naming_the_field(streams, tmp_path, change, message):
    folder = shutil.copytree(streams["stdo"], tmp_path / "stream")
    index = json.loads((folder / "segments.json").read_text())
    change(index)
    (folder / "segments.json").write_text(json.dumps(index))
    with pytest.raises(InputError, match=f"segments.json: {re.escape(message)}"):
        streaming.play_span(str(folder), start=0.0, duration=0.4)


def test_a_span_outside_the_video_or_of_no_length_is_refused(streams):
    with pytest.raises(InputError, match=r"--start 5.0: the video lasts 1.2 s \(30 frames\)"):
        streaming.play_span(str(streams["stdo"]), start=5.0)
    with pytest.raises(InputError, match="--duration 0.0: give a positive number of seconds"):
        streaming.play_span(str(streams["stdo"]), start=0.0, duration=0.0)


@pytest.mark.parametrize("encoder", sorted(stream.ENCODERS))
def test_every_encoder_s_stream_is_cut_into_segments_that_play_alone(encoder, packages, tmp_path):
    """The remux copies the bitstream whatever its codec (no encoder or decoder is opened for it); the MPD names it."""
    root = packages["stdo"].parent.parent
    lr = np.stack(list(stream.decode(root / "crf30.mp4")))
    stream.encode(lr, tmp_path / "lr.mp4", fps=FPS, encoder=encoder, crf=40, keyframe_every=10)
    folder = tmp_path / "dash"
    folder.mkdir()
    segments._dash(tmp_path / "lr.mp4", folder, SECONDS)
    init = (folder / segments.INIT).read_bytes()
    assert [segments.frames_in(init, media) for media in segments.media_segments(folder)] == [10, 10, 10]
    assert re.search(r'codecs="(avc1|hvc1|hev1|av01|vp09)[^"]+"', (folder / segments.MPD).read_text())


def test_the_hevc_codecs_string_is_read_off_the_hvcc_box():
    """x265's 720p stream of the codec map (main profile, main tier, level 3.1) and a made-up high-tier one."""
    assert segments.hevc_codecs(bytes.fromhex("0101600000009000000000005d")) == "hvc1.1.6.L93.90"
    assert segments.hevc_codecs(bytes.fromhex("01220000000000000000000096")) == "hvc1.2.0.H150"
    with pytest.raises(InputError, match="no hvcC"):
        segments.hevc_codecs(b"\x00" * 4)
