"""`stdo play` writes its video atomically (through `stdo.io.atomic_path`): killed mid-write, it leaves the file
that was at the output path untouched and nothing partial under the final name; run again, it replaces it whole
and leaves no temporary file behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from stdo import codec, models, package
from stdo.delivery import stream
from stdo.ingest import ingest
from stdo.label import label
from stdo.sources import bundled_clip

FRAMES = 40  # of the bundled clip at 1280x720 (x4 of 320x180): about 2 s of playback at one thread on our CPU
WAIT_S = 120  # for the temporary file to appear: the player's start-up, on a busy machine


@pytest.fixture(scope="module")
def long_package(tmp_path_factory):
    """A bicubic package of 40 real frames: the cheapest to build, and long enough to be killed while it plays."""
    root = tmp_path_factory.mktemp("atomic")
    ingest(bundled_clip(), root, [4], {4: (4, 2)}, max_frames=FRAMES)
    models.save_checkpoint(models.build("bicubic", 4), root / "bicubic.pt", {"arch": "bicubic", "scale": 4})
    label(root / "lr_x4.npy", root / "hr.npy", root / "bicubic.pt", root / "patches.parquet", scale=4, grid=[4, 2],
          eval_every=10)
    codec.encode_lr(root / "lr_x4.npy", root / "meta.json", root / "crf30.mp4", root / "crf30.json", rate="crf30",
                    encoder="libx264", preset="ultrafast")
    package.build(root / "crf30.mp4", root / "crf30.json", root / "patches.parquet", root / "package", scale=4,
                  meta_path=root / "meta.json")
    return root / "package"


def play_command(folder, out) -> list[str]:
    return [sys.executable, "-m", "stdo", "play", str(folder), "-o", str(out), "--threads", "1"]


def temporaries(out) -> list:
    return sorted(out.parent.glob(f".{out.name}.tmp*"))


def test_a_killed_play_leaves_the_old_output_and_a_second_run_replaces_it_whole(long_package, tmp_path):
    out = tmp_path / "sr.mp4"
    sentinel = b"the video that was here before stdo play ran\n" * 1000
    out.write_bytes(sentinel)
    log = tmp_path / "play.log"
    with open(log, "wb") as stderr:
        player = subprocess.Popen(play_command(long_package, out), stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + WAIT_S
        while not temporaries(out):
            if player.poll() is not None:
                pytest.fail(f"stdo play ended (exit {player.returncode}) before its temporary file .{out.name}.tmp* "
                            f"appeared beside {out}: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no temporary file .{out.name}.tmp* appeared beside {out} within {WAIT_S} s")
            time.sleep(0.005)
        if player.poll() is not None:
            pytest.fail(f"stdo play ended (exit {player.returncode}) before it could be killed: make the package "
                        f"longer than {FRAMES} frames")
        os.kill(player.pid, signal.SIGKILL)
    finally:
        if player.poll() is None:
            player.kill()
        player.wait(timeout=60)
    assert player.returncode == -signal.SIGKILL
    assert out.read_bytes() == sentinel  # untouched: the frames went to the temporary file only
    assert temporaries(out), "the killed player's temporary file is gone: was it killed mid-write?"

    done = subprocess.run(play_command(long_package, out), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    frames = list(stream.decode(out))
    assert len(frames) == FRAMES and frames[0].shape == (720, 1280, 3)
    assert temporaries(out) == []  # its own renamed, the killed one's removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["play.log", "sr.mp4"]
