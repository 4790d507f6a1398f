"""Small file helpers shared by every stage: outputs appear under their final name only once
complete, so a failed or killed job never leaves a half-written file behind."""
from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from .errors import InputError


def _remove_leftovers(folder: Path, pattern: str) -> None:
    """Temporary files of an earlier writer of the same output that was killed before it could clean
    up (SIGKILL, a node lost): Snakemake never runs two jobs writing one output, so they are stale."""
    for stale in folder.glob(pattern) if folder.is_dir() else []:
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def _beside(path: Path) -> Path:
    """The temporary name of `path` while it is written (ending in its suffix, for writers that read the
    format from it), once the leftovers of a killed earlier writer are gone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path.parent, f".{glob.escape(path.name)}.tmp*")
    return path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    tmp = _beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path):
    """Yield an empty folder beside the folder `path`; it replaces `path` whole only if the block succeeds."""
    path = Path(path)
    staging = _beside(path)
    staging.mkdir()
    try:
        yield staging
        shutil.rmtree(path, ignore_errors=True)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def save_json(obj, path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_text(text: str, path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_bytes(data: bytes, path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def load_json(path):
    """A JSON file another stage wrote; one that is cut or edited into invalid JSON is bad input, named."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err}); delete it to have it written again") from None


def save_parquet(df, path) -> None:
    """A pandas DataFrame as parquet (pandas is not imported here: the client's play path needs none)."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def save_png(fig, path, dpi: int = 110) -> None:
    """Write a matplotlib figure as PNG (complete or not at all) and free it."""
    import matplotlib.pyplot as plt  # only the stages that draw pay for the import

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)


def load_frames(path) -> np.ndarray:
    """A (T, H, W, 3) uint8 frame array, memory-mapped (nothing is read until it is used)."""
    return np.load(path, mmap_mode="r")


def load_chunks(chunks_path) -> np.ndarray:
    """The chunk of every patch, indexed by patch id."""
    import pandas as pd  # here, not at the top: the client reads no parquet

    chunks = pd.read_parquet(chunks_path, columns=["patch_id", "chunk"]).sort_values("patch_id")
    return chunks["chunk"].to_numpy()


def read_image(path: Path) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3)."""
    import cv2  # here, not at the top: the client reads no image files

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: not an image OpenCV can read")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def sha256_files(paths, chunk_bytes: int = 1 << 20) -> str:
    """The SHA-256 of the files' contents one after the other (hex)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            while block := f.read(chunk_bytes):
                digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def staged_dir(out_dir):
    """Yield a hidden staging folder inside `out_dir`; move its files into `out_dir` only if the
    block succeeds, so a multi-file output appears all at once or not at all."""
    out_dir = Path(out_dir)
    _remove_leftovers(out_dir, ".staging*")
    staging = out_dir / f".staging{os.getpid()}"
    staging.mkdir(parents=True, exist_ok=True)
    try:
        yield staging
        for item in staging.iterdir():
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
