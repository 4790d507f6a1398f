"""Small real data for the tests, cut from the clips and photos the dependencies ship."""
from __future__ import annotations

import fcntl
import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from stdo.general import photo_dir
from stdo.resample import downscale
from stdo.sources import bundled_clip

REPO = Path(__file__).resolve().parents[1]
# 6 frames of bigbuckbunny, a 256x160 window with texture (grass, trees, the bunny).
FRAMES, WINDOW = 6, (slice(360, 520), slice(480, 736))


@pytest.fixture(scope="session")
def bunny() -> np.ndarray:
    """(6, 160, 256, 3) uint8 RGB frames of the bundled real clip."""
    cap = cv2.VideoCapture(str(bundled_clip()))
    frames = []
    for _ in range(FRAMES):
        ok, frame = cap.read()
        assert ok
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)[WINDOW])
    cap.release()
    return np.stack(frames)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(photo_dir() / "astronaut.png")), cv2.COLOR_BGR2RGB)


def write_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.fixture(scope="session")
def frames_dir(bunny, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("frames")
    for i, frame in enumerate(bunny):
        write_png(folder / f"frame_{i + 1}.png", frame)
    return folder


@pytest.fixture(scope="session")
def video_file(bunny, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("video") / "bunny.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 12.5, (bunny.shape[2], bunny.shape[1]))
    for frame in bunny:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def make_vsd4k(root: Path, frames: np.ndarray, scale: int = 4, sep: str = "") -> Path:
    """A VSD4K-layout clip: DIV2K_train_HR/00001.png and DIV2K_train_LR_bicubic/X4/00001{sep}x4.png."""
    lr = downscale(frames, scale)
    for i, (hr_frame, lr_frame) in enumerate(zip(frames, lr), start=1):
        write_png(root / "DIV2K_train_HR" / f"{i:05d}.png", hr_frame)
        write_png(root / "DIV2K_train_LR_bicubic" / f"X{scale}" / f"{i:05d}{sep}x{scale}.png", lr_frame)
    return root


@pytest.fixture(scope="session")
def tiny_run(frames_dir, tmp_path_factory, worker_id):
    """The tiny workflow (tests/tiny.py), run once from nothing: (work folder, the completed process). Under
    pytest-xdist the workers share it: the first to need it runs it, the other waits for it (a lock in the folder
    all workers' temp folders are in). Tests read it; those that change it, or add to it, work on a copy."""
    from tiny import snakemake, workdir

    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    root, record = shared / "tiny_run", shared / "tiny_run.json"
    with open(shared / "tiny_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            run = snakemake(workdir(root, frames_dir))
            record.write_text(json.dumps({"returncode": run.returncode, "stdout": run.stdout, "stderr": run.stderr}))
    run = subprocess.CompletedProcess(args="snakemake", **json.loads(record.read_text()))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return root, run


FIRST = ["test_slurm", "test_workflow", "test_dataset_folder"]  # the longest files, mostly end-to-end runs


def pytest_collection_modifyitems(items):
    """The longest files first, so that two xdist workers start on them and the short ones fill in after,
    instead of one worker ending the session alone on a long file."""
    items.sort(key=lambda item: FIRST.index(item.module.__name__) if item.module.__name__ in FIRST else len(FIRST))
