"""The package format, version 1: a folder holding exactly what a client downloads.

    manifest.json   this description (format, version, geometry, routing, every other file's size and sha256)
    lr.mp4 | lr.mkv the LR bitstream as encoded (lossless packages: FFV1 in Matroska)
    model<i>.onnx   the SR models, fp16 or int8 weights as their entry says (stdo.delivery.onnx_model),
                    model<i>.onnx.zlib where the entry says compression zlib; none for bicubic
    chunks.bin      the patch -> chunk map, zlib-compressed, one byte (or two, k > 256) per patch,
                    only when patches of one frame are routed to models by content

Routing: the video is cut into `grid` patches per frame (patch ids frame-major, then row-major);
each patch belongs to one of k chunks and chunk c runs `chunk_model[c] = [model index, CaFM chunk
index or null]`. How a patch's chunk is known: "none" (k = 1), "frames" (chunk c holds the frames
from frame_starts[c] on: NAS/CaFM time chunks, no map needed) or "map" (chunks.bin)."""
from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

FORMAT = "stdo-package"
VERSION = 1
MANIFEST = "manifest.json"


def sha256(path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def file_entry(path) -> dict:
    return {"bytes": Path(path).stat().st_size, "sha256": sha256(path)}


def map_dtype(k: int):
    return np.uint8 if k <= 256 else np.uint16


def encode_map(chunk: np.ndarray, k: int) -> bytes:
    return zlib.compress(np.asarray(chunk, dtype=map_dtype(k)).tobytes(), 9)


@dataclass(frozen=True)
class Package:
    """A package folder whose manifest was read and whose files were checked."""

    folder: Path
    manifest: dict

    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def stream(self) -> Path:
        return self.path(self.manifest["stream"]["file"])

    def bytes_by_role(self) -> dict:
        """Delivered bytes measured on the files: stream, models, chunk map, manifest, total."""
        m, files = self.manifest, self.manifest["files"]
        models = sum(files[e["file"]]["bytes"] for e in m["models"] if e["file"])
        routing_map = m["routing"].get("map")
        map_bytes = files[routing_map["file"]]["bytes"] if routing_map else 0
        manifest_bytes = self.path(MANIFEST).stat().st_size
        stream = files[m["stream"]["file"]]["bytes"]
        return {"stream_bytes": stream, "model_bytes": models, "map_bytes": map_bytes,
                "manifest_bytes": manifest_bytes, "models_and_map_bytes": models + map_bytes,
                "package_bytes": stream + models + map_bytes + manifest_bytes}

    def chunk_map(self) -> np.ndarray | None:
        """The chunk of every patch of the video (routing by map), else None."""
        routing = self.manifest["routing"]
        if routing["by"] != "map":
            return None
        raw = zlib.decompress(self.path(routing["map"]["file"]).read_bytes())
        chunk = np.frombuffer(raw, dtype=map_dtype(routing["k"]))
        expected = self.manifest["frames"] * self.manifest["grid"]["rows"] * self.manifest["grid"]["cols"]
        if len(chunk) != expected or (len(chunk) and int(chunk.max()) >= routing["k"]):
            raise InputError(f"{self.path(routing['map']['file'])}: chunk map of {len(chunk)} patches does not "
                             f"fit the manifest ({expected} patches, k = {routing['k']})")
        return chunk


def open_package(folder, verify: bool = True) -> Package:
    """Read a package's manifest and check its files (presence, size and, if `verify`, sha256)."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise InputError(f"{folder}: not a package (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err.msg if hasattr(err, 'msg') else err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"{path}: not a {FORMAT} manifest")
    if manifest.get("version") != VERSION:
        raise InputError(f"{path}: package format version {manifest.get('version')!r} is not supported "
                         f"(this client reads version {VERSION})")
    for name, entry in manifest["files"].items():
        _check_file(folder / name, entry, verify)
    return Package(folder, manifest)


def _check_file(path: Path, entry: dict, verify: bool) -> None:
    if not path.is_file():
        raise InputError(f"{path}: missing from the package")
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise InputError(f"{path}: {size} bytes, the manifest says {entry['bytes']} (file changed or truncated)")
    if verify and sha256(path) != entry["sha256"]:
        raise InputError(f"{path}: sha256 does not match the manifest (file changed)")
