"""The package format, versions 1 and 2: a folder holding exactly what a client downloads.

    manifest.json   this description (format, version, geometry, routing, every other file's size and sha256)
    lr.mp4 | lr.mkv the LR bitstream as encoded (lossless packages: FFV1 in Matroska)
    model<i>.onnx   the SR models, fp16 or int8 weights as their entry says (stdo.delivery.onnx_model),
                    model<i>.onnx.zlib where the entry says compression zlib; none for bicubic
    chunks.bin      the patch -> chunk map, zlib-compressed, one byte (or two, k > 256) per patch,
                    only when patches of one frame are routed to models by content

Routing: the video is cut into `grid` patches per frame (patch ids frame-major, then row-major);
each patch belongs to one of k chunks and chunk c runs `chunk_model[c] = [model index, CaFM chunk
index or null]`. How a patch's chunk is known: "none" (k = 1), "frames" (chunk c holds the frames
from frame_starts[c] on: NAS/CaFM time chunks, no map needed) or "map" (chunks.bin).

Version 2 is a package that needs a resident base: a model file installed with the player once (the
general model of the scale exported as a package model file), not sent per video. The manifest's
`base` names it (sha256, file name, arch, arch_kwargs, scale, weights, compression, bytes, params);
the client looks it up by file name in its bases folder and checks the sha256. A model entry with
`"base": true` (and no file) is the base itself; one with `"delta": {"base": sha256, "prefix": P}`
ships model<i>.delta.onnx.zlib, whose weights named P + (a base weight's name) are that weight's
difference to the base (`stdo.delivery.onnx_model`). Only the package's own files count as delivered
bytes; `package_bytes_with_base` adds the base's.

A manifest comes from the network: `open_package` refuses one over 64 MiB unread, then one that is not
this format (`stdo.delivery.manifest_schema`: types, required keys, enums, bounds, the fields' agreement),
right after parsing it and before any file is opened; keys a newer writer may add are accepted there."""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import sha256_files
from . import manifest_schema

FORMAT = "stdo-package"
VERSION = 1  # self-contained
RESIDENT_VERSION = 2  # needs a resident base; a version 1 client must refuse it, not play bicubic in its place
VERSIONS = (VERSION, RESIDENT_VERSION)
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 64 << 20  # 65,536 models' entries and chunks are some 20 MB of JSON
# A package as a DASH stream (stdo.delivery.segments writes it, stdo.delivery.streaming plays it): its segment index
SEGMENTS, SEGMENTS_FORMAT, SEGMENTS_VERSION = "segments.json", "stdo-segments", 1


def file_entry(path) -> dict:
    return {"bytes": Path(path).stat().st_size, "sha256": sha256_files([path])}


def map_dtype(k: int):
    return np.uint8 if k <= 256 else np.uint16


def encode_map(chunk: np.ndarray, k: int) -> bytes:
    return zlib.compress(np.asarray(chunk, dtype=map_dtype(k)).tobytes(), 9)


@dataclass(frozen=True)
class Package:
    """A package folder whose manifest was read and whose files were checked."""

    folder: Path
    manifest: dict
    base: Path | None = None  # the resident base's file, found and checked (version 2)

    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def stream(self) -> Path:
        return self.path(self.manifest["stream"]["file"])

    def bytes_by_role(self) -> dict:
        """Delivered bytes measured on the files: stream, models, chunk map, manifest, total; and the
        resident base's bytes, which the total leaves out and `package_bytes_with_base` counts."""
        m, files = self.manifest, self.manifest["files"]
        models = sum(files[e["file"]]["bytes"] for e in m["models"] if e["file"])
        routing_map = m["routing"].get("map")
        map_bytes = files[routing_map["file"]]["bytes"] if routing_map else 0
        manifest_bytes = self.path(MANIFEST).stat().st_size
        stream = files[m["stream"]["file"]]["bytes"]
        total = stream + models + map_bytes + manifest_bytes
        base = m["base"]["bytes"] if "base" in m else 0
        return {"stream_bytes": stream, "model_bytes": models, "map_bytes": map_bytes,
                "manifest_bytes": manifest_bytes, "models_and_map_bytes": models + map_bytes,
                "package_bytes": total, "base_bytes": base, "package_bytes_with_base": total + base}

    def chunk_map(self) -> np.ndarray | None:
        """The chunk of every patch of the video (routing by map), else None."""
        routing = self.manifest["routing"]
        if routing["by"] != "map":
            return None
        path = self.path(routing["map"]["file"])
        expected = self.manifest["frames"] * self.manifest["grid"]["rows"] * self.manifest["grid"]["cols"]
        return decode_map(path.read_bytes(), expected, routing["k"], path)


def decode_map(data: bytes, expected: int, k: int, where) -> np.ndarray:
    """A chunk map (or a segment's part of it) of `expected` patches, each below `k`; one InputError naming `where`
    otherwise. At most one patch more than expected is inflated (a small file may inflate to gigabytes)."""
    dtype = np.dtype(map_dtype(k))
    try:
        raw = zlib.decompressobj().decompress(data, (expected + 1) * dtype.itemsize)
    except zlib.error as err:
        raise InputError(f"{where}: corrupt zlib data ({err})") from None
    chunk = np.frombuffer(raw, dtype=dtype) if len(raw) == expected * dtype.itemsize else None
    if chunk is None or (len(chunk) and int(chunk.max()) >= k):
        raise InputError(f"{where}: chunk map of {len(raw) // dtype.itemsize} patches does not "
                         f"fit the manifest ({expected} patches, k = {k})")
    return chunk


def base_label(manifest: dict) -> str:
    """What a package assumes the client holds: 'none', or 'resident x<scale>-<sha256, 10 digits>'."""
    base = manifest.get("base")
    return f"resident x{manifest['scale']}-{base['sha256'][:10]}" if base else "none"


def open_package(folder, verify: bool = True, base_dir=None, need_base: bool = True) -> Package:
    """Read a package's manifest, check it is one of this format (`stdo.delivery.manifest_schema`), then
    its files (presence, size and, if `verify`, sha256), and the resident base it needs in `base_dir` (the
    client's bases folder; not looked for unless `need_base`: a server handles packages without it)."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise InputError(f"{folder}: not a package (no {MANIFEST})")
    manifest = parse_manifest(path)
    manifest_schema.check(manifest, path)
    for name, entry in manifest["files"].items():
        _check_file(folder / name, entry, verify)
    base = find_base(folder, manifest["base"], base_dir, verify) if "base" in manifest and need_base else None
    return Package(folder, manifest, base)


def parse_manifest(path: Path) -> dict:
    """The manifest's JSON, with its format and version checked."""
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise InputError(f"{path}: {path.stat().st_size} bytes, more than a manifest holds ({MAX_MANIFEST_BYTES})")
    try:
        manifest = json.loads(path.read_bytes())
    except ValueError as err:  # also a bad encoding, an integer of thousands of digits
        raise InputError(f"{path}: not valid JSON ({err.msg if hasattr(err, 'msg') else err})") from None
    except RecursionError:
        raise InputError(f"{path}: not valid JSON (nested too deep)") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{path}: not a {FORMAT} manifest (not a JSON object)")
    if "format" not in manifest or manifest["format"] != FORMAT:
        got = manifest_schema.shown(manifest["format"]) if "format" in manifest else "no format"
        raise InputError(f"{path}: format: not a {FORMAT} manifest (got {got})")
    if "version" not in manifest:
        raise InputError(f"{path}: version: required, missing")
    version = manifest["version"]
    if isinstance(version, bool) or version not in VERSIONS:
        raise InputError(f"{path}: version: package format version {manifest_schema.shown(version)} is not "
                         f"supported (this client reads versions {', '.join(map(str, VERSIONS))})")
    return manifest


def find_base(folder, base: dict, base_dir, verify: bool) -> Path:
    """The resident base a package (a folder, or a stream's URL: `folder` names it in errors) needs, in the
    client's folder of bases, checked."""
    name = f"resident base {base['sha256']} ({base['arch']} x{base['scale']})"
    if base_dir is None:
        raise InputError(f"{folder}: needs the {name}; give the folder of bases (--base-dir)")
    if Path(base["file"]).name != base["file"]:
        raise InputError(f"{folder}/{MANIFEST}: base file '{base['file']}' is not a plain file name")
    path = Path(base_dir) / base["file"]
    if not path.is_file():
        raise InputError(f"{base_dir}: holds no {name}, which {folder} needs")
    if path.stat().st_size != base["bytes"] or (verify and sha256_files([path]) != base["sha256"]):
        raise InputError(f"{path}: sha256 differs from the {name} that {folder} needs")
    return path


def _check_file(path: Path, entry: dict, verify: bool) -> None:
    if not path.is_file():
        raise InputError(f"{path}: missing from the package")
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise InputError(f"{path}: {size} bytes, the manifest says {entry['bytes']} (file changed or truncated)")
    if verify and sha256_files([path]) != entry["sha256"]:
        raise InputError(f"{path}: sha256 does not match the manifest (file changed)")
