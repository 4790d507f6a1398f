"""Stage: build the package a client downloads for one (video, scale, method, rate point).

The LR bitstream as encoded, every model of the method as ONNX with fp16 or int8 weights, the chunk map
when patches of one frame go to different models, and the manifest (`stdo.delivery.manifest`).
How patches are routed is read off the method's chunk assignment itself: one model for everything,
chunks that are whole frame ranges (NAS / CaFM time chunks: no map needed), or a map.

With a resident base (`write_base`: the general model, installed with the player once), a model that
is the base is not sent but named, and with ship 'delta' a model warm-started from it is sent as its
difference to the base (int8 + zlib); the manifest then names the base (format version 2)."""
from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__, models
from .delivery import manifest as fmt
from .delivery import onnx_model
from .delivery.player import PLAYBACK
from .errors import InputError
from .io import atomic_dir, load_chunks, load_json, save_bytes, save_json, sha256_files
from .patches import Grid, grid_of

log = logging.getLogger(__name__)


def routing(chunk: np.ndarray | None, frame: np.ndarray, loaded: list, by_chunk: bool = False) -> dict:
    """How the client finds each patch's model: by nothing (one model), by frame ranges or by a map.
    `by_chunk`: route by chunk even where one model serves them all (before `select` changes some)."""
    cafm = loaded[0][1].get("cafm_chunks") if loaded else None
    k = int(chunk.max()) + 1 if chunk is not None else 1
    if k == 1 or (len(loaded) <= 1 and not cafm and not by_chunk):
        return {"k": 1, "by": "none", "chunk_model": [[0, None]]}
    if not cafm and len(loaded) not in (k, 1):
        raise InputError(f"patches fall into {k} chunks but {len(loaded)} models were given")
    chunk_model = [[0, c] if cafm else [c if len(loaded) == k else 0, None] for c in range(k)]
    starts = [int(frame[chunk == c].min()) for c in range(k)]
    by_frames = np.searchsorted(starts, frame, side="right") - 1
    if starts == sorted(starts) and np.array_equal(by_frames, chunk):
        return {"k": k, "by": "frames", "frame_starts": starts, "chunk_model": chunk_model}
    return {"k": k, "by": "map", "map": {"file": "chunks.bin", "dtype": str(np.dtype(fmt.map_dtype(k))),
                                         "compression": "zlib"}, "chunk_model": chunk_model}


def apply_selection(route: dict, loaded: list, selection: dict, general) -> tuple[dict, list]:
    """The routing and models after `select`: each chunk whose trained model lost goes to the general
    model or to bicubic (each added once), and models no chunk uses any more are left out."""
    fallback = {"general": general, "bicubic": (None, {"arch": "bicubic"})}
    candidates = list(loaded) + [fallback[s] for s in ("general", "bicubic")]
    chunk_model = []
    for (model, cafm_chunk), choice in zip(route["chunk_model"], (c["ships"] for c in selection["chunks"])):
        if choice == "trained":
            chunk_model.append([model, cafm_chunk])
        elif choice == "general" and general is None:
            raise InputError("select ships the general model for a chunk, but no general model was given")
        else:
            chunk_model.append([len(loaded) + ("general", "bicubic").index(choice), None])
    used = sorted({m for m, _ in chunk_model})
    route = {**route, "chunk_model": [[used.index(m), c] for m, c in chunk_model],
             "ships": [c["ships"] for c in selection["chunks"]]}
    return route, [candidates[m] for m in used]


SHIPS = ("weights", "delta")
DELTA_STORAGE = {"weights": "int8", "compression": "zlib"}


def _file_name(stem: str, compression: str) -> str:
    return f"{stem}.onnx" + (".zlib" if compression == "zlib" else "")


def write_base(general_path, out, *, weights: str = "fp16", compression: str = "none", threads: int = 1) -> dict:
    """Stage: the resident base, i.e. the general model exported exactly as a package model file stored as
    `weights` and `compression`, written beside `out` under its content's name, <sha256>.onnx[.zlib] (the
    same content always makes the same file), and `out`: the base's manifest entry (JSON) packages copy."""
    import torch

    torch.set_num_threads(threads)
    model, meta = models.load_checkpoint(general_path)
    if meta["arch"] == "bicubic" or meta.get("cafm_chunks"):
        raise InputError(f"{general_path}: a {meta['arch']} model cannot be a resident base (a plain SR model can)")
    data, info = onnx_model.serialize(model, weights=weights, compression=compression)
    digest = hashlib.sha256(data).hexdigest()
    name = _file_name(digest, compression)
    save_bytes(data, Path(out).parent / name)
    entry = {"sha256": digest, "file": name, "arch": meta["arch"], "arch_kwargs": meta.get("arch_kwargs", {}),
             "scale": meta["scale"], "weights": info["weights"], "compression": info["compression"],
             "bytes": len(data), **onnx_model.counts(info["params"], info.get("buffers", 0))}
    save_json(entry, out)
    log.info("base %s: %s", out, entry)
    return entry


@dataclass(frozen=True)
class Resident:
    """The base a client holds (`write_base`): its manifest entry and its weights as the client decodes
    them; with ship 'delta', models warm-started from it are sent as their difference to it."""

    entry: dict
    weights: dict
    ship: str

    def _same_arch(self, meta: dict) -> bool:
        return (meta["arch"], meta.get("arch_kwargs", {})) == (self.entry["arch"], self.entry["arch_kwargs"])

    def is_base(self, model, meta: dict) -> bool:
        """Whether the client would compute with exactly the base's weights (the general model itself)."""
        if meta.get("cafm_chunks") or not self._same_arch(meta):
            return False
        mine = onnx_model.packaged_weights(model, self.entry["weights"])
        return mine.keys() == self.weights.keys() and all(
            np.array_equal(w.view(np.uint32), self.weights[k].view(np.uint32)) for k, w in mine.items())

    def delta_of(self, meta: dict) -> dict | None:
        """The `delta` entry of a model warm-started from the base (for CaFM, its backbone), else None."""
        if self.ship != "delta" or meta.get("init") != "general" or not self._same_arch(meta):
            return None
        return {"base": self.entry["sha256"], "prefix": "backbone." if meta.get("cafm_chunks") else ""}

    def model_entry(self) -> dict:
        e = self.entry
        return {"file": None, "base": True, "arch": e["arch"], "arch_kwargs": e["arch_kwargs"], "cafm_chunks": None,
                **onnx_model.counts(e["params"], e.get("buffers", 0)), "weights": e["weights"],
                "compression": e["compression"]}


def resident(base_path, scale: int, ship: str) -> Resident:
    """The base `write_base` described in `base_path`, its file checked against the description."""
    if ship not in SHIPS:
        raise ValueError(f"ship '{ship}': choose one of {', '.join(SHIPS)}")
    entry = load_json(base_path)
    path = Path(base_path).parent / entry["file"]
    if not path.is_file() or sha256_files([path]) != entry["sha256"]:
        raise InputError(f"{path}: missing, or not the base {base_path} describes (sha256 {entry['sha256']})")
    if entry["scale"] != scale:
        raise InputError(f"{base_path}: a base for x{entry['scale']}, the package is x{scale}")
    return Resident(entry, onnx_model.load_weights(path, entry["compression"]), ship)


def model_entries(loaded, folder: Path, storage: dict, base: Resident | None = None) -> list[dict]:
    """Export every model as ONNX into `folder`, stored as `storage` says (`onnx_model.export`'s
    weights and compression); bicubic (no model) has no file, nor has the resident `base`."""
    if not loaded:
        loaded = [(None, {"arch": "bicubic"})]
    entries = []
    for i, (model, meta) in enumerate(loaded):
        if model is None:
            entries.append({"file": None, "arch": "bicubic", "arch_kwargs": {}, "cafm_chunks": None, "params": 0})
        elif base and base.is_base(model, meta):
            entries.append(base.model_entry())
        else:
            entries.append(_exported(i, model, meta, folder, storage, base))
    return entries


def _exported(i: int, model, meta: dict, folder: Path, storage: dict, base: Resident | None) -> dict:
    """A model's file and entry: its weights as `storage` says, or its delta to the base."""
    delta = base.delta_of(meta) if base else None
    if delta:
        storage = DELTA_STORAGE
    name = _file_name(f"model{i}.delta" if delta else f"model{i}", storage["compression"])
    minus = {delta["prefix"] + k: w for k, w in base.weights.items()} if delta else None
    info = onnx_model.export(model, folder / name, cafm_chunks=meta.get("cafm_chunks"), minus=minus, **storage)
    entry = {"file": name, "arch": meta["arch"], "arch_kwargs": meta.get("arch_kwargs", {}),
             "cafm_chunks": meta.get("cafm_chunks"), **onnx_model.counts(info["params"], info.get("buffers", 0)),
             "weights": info["weights"], "compression": info["compression"]}
    return {**entry, "delta": delta} if delta else entry


def build(stream_path, codec_path, patches_path, out_dir, *, scale: int, playback: dict | None = None,
          model_paths=(), chunks_path=None, meta_path=None, selection_path=None, general_path=None,
          base_path=None, ship: str = "weights", info: dict | None = None, weights: str = "fp16",
          compression: str = "none", threads: int = 1) -> dict:
    """Write the package folder `out_dir` (all at once: staged beside it, then renamed). `playback`:
    the settings the server evaluates it with and a client plays it with by default
    (`stdo.delivery.player.PLAYBACK`: runtime, precision, pad, batch, block_frames). `meta_path`: the
    ingest's meta.json, for where the frames sit in the source video (its size and the crop).
    `selection_path`: what each chunk ships (`stdo.select`), with the general model at `general_path`.
    `weights`, `compression`: how the model files are stored (`stdo.delivery.onnx_model`: fp16 or int8
    per output channel; zlib-compressed or not). `base_path`: the resident base's description
    (`write_base`); models that are the base are not sent, and with `ship` 'delta' those warm-started
    from it (their sidecar says init general) are sent as their difference to it."""
    import torch

    if ship != "weights" and base_path is None:
        raise InputError(f"ship '{ship}': models are sent as differences to a resident base, but none was given")
    torch.set_num_threads(threads)
    base = resident(base_path, scale, ship) if base_path else None
    codec = load_json(codec_path)
    table = pd.read_parquet(patches_path, columns=["frame", "row", "col", "lr_h", "lr_w"])
    loaded = [models.load_checkpoint(p) for p in model_paths]
    chunk = load_chunks(chunks_path) if chunks_path else None
    grid = grid_of(table, scale)
    if not loaded:  # bicubic: a player upscales whole frames, no patch seams
        grid = Grid(1, 1, codec["height"], codec["width"], scale)
    selection = load_json(selection_path) if selection_path else None
    fallbacks = bool(selection and selection["fallbacks"])
    route = routing(chunk, table["frame"].to_numpy(), loaded, by_chunk=fallbacks)
    if fallbacks:
        general = models.load_checkpoint(general_path) if general_path else None
        route, loaded = apply_selection(route, loaded, selection, general)
    elif selection:
        route["ships"] = [c["ships"] for c in selection["chunks"]]
    manifest = {
        "format": fmt.FORMAT, "version": fmt.VERSION,
        "scale": scale, "frames": codec["frames"], "fps": codec["fps"],
        "lr_size": [codec["width"], codec["height"]], "hr_size": [codec["width"] * scale, codec["height"] * scale],
        "source": {k: load_json(meta_path)[k] for k in ("size", "crop")} if meta_path else None,
        "grid": {"rows": grid.rows, "cols": grid.cols, "patch_h": grid.patch_h, "patch_w": grid.patch_w},
        "playback": {**PLAYBACK, **(playback or {})},
        "stream": {**{k: v for k, v in codec.items() if k != "bytes"}, "file": "lr" + Path(stream_path).suffix},
        "routing": route,
        "about": {**(info or {}), "made_by": f"stdo {__version__}"},
    }
    with atomic_dir(out_dir) as staging:
        _write(staging, manifest, stream_path, loaded, chunk, {"weights": weights, "compression": compression}, base)
    log.info("package %s: %s", out_dir, {k: v["bytes"] for k, v in manifest["files"].items()})
    return manifest


def _write(folder: Path, manifest: dict, stream_path, loaded, chunk, storage: dict, base: Resident | None) -> None:
    """Write the stream, the models and the map into `folder`, then the manifest listing them (and naming
    the resident base where a model needs it)."""
    route = manifest["routing"]
    shutil.copyfile(stream_path, folder / manifest["stream"]["file"])
    manifest["models"] = model_entries(loaded, folder, storage, base)
    if any(e.get("base") or e.get("delta") for e in manifest["models"]):
        manifest.update(version=fmt.RESIDENT_VERSION, base=base.entry)
    files = [manifest["stream"]["file"], *(e["file"] for e in manifest["models"] if e["file"])]
    if route["by"] == "map":
        (folder / route["map"]["file"]).write_bytes(fmt.encode_map(chunk, route["k"]))
        files.append(route["map"]["file"])
    manifest["files"] = {name: fmt.file_entry(folder / name) for name in sorted(files)}
    save_json(manifest, folder / fmt.MANIFEST)
