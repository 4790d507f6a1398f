"""Decode and upscale: the one function that turns a package into SR frames.

The server evaluates a package with it and the client (`stdo play`) plays the package with it, so
what is measured and what a viewer sees cannot drift apart. Each LR frame is cut into the
package's patch grid; every patch goes to the model of its chunk, all patches of one chunk within
a block of frames in one batch; with `pad` P each patch is super-resolved with P LR pixels of
context around it (edge-replicated at the frame border) and cropped back, which removes the seams
of independent patches. Runtimes: PyTorch (the model rebuilt from the registry, weights read from
the package's ONNX files) or ONNX Runtime on those files. A model that is the resident base, or a
delta against it, gets its weights from the base file (`model_graph`): both runtimes then compute
with the very same float32 weights."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import InputError
from ..patches import Grid, cut, stitch
from ..vocabulary import PLAYBACK, PRECISIONS, RUNTIMES  # noqa: F401 (read as player.PLAYBACK)
from . import onnx_model, stream
from .manifest import MANIFEST, Package


def grid_of(manifest: dict) -> Grid:
    g = manifest["grid"]
    return Grid(rows=g["rows"], cols=g["cols"], patch_h=g["patch_h"], patch_w=g["patch_w"], scale=manifest["scale"])


def cut_with_context(frames: np.ndarray, grid: Grid, pad: int) -> np.ndarray:
    """(T, H, W, C) frames -> (T * rows * cols, ph + 2 pad, pw + 2 pad, C) patches with `pad` pixels of context."""
    if pad == 0:
        return cut(frames, grid)
    ph, pw = grid.patch_size()
    area = frames[:, : grid.rows * ph, : grid.cols * pw]
    padded = np.pad(area, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    windows = sliding_window_view(padded, (ph + 2 * pad, pw + 2 * pad), axis=(1, 2))[:, ::ph, ::pw]
    return np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3)).reshape(
        -1, ph + 2 * pad, pw + 2 * pad, frames.shape[-1])


class Router:
    """The chunk of every patch of a block of frames, from the package's routing."""

    def __init__(self, package: Package):
        routing = package.manifest["routing"]
        self.by, self.per_frame = routing["by"], grid_of(package.manifest).per_frame
        self.map = package.chunk_map()
        self.starts = np.asarray(routing.get("frame_starts") or [0])

    def chunks(self, first_frame: int, n_frames: int) -> np.ndarray:
        if self.by == "map":
            return self.map[first_frame * self.per_frame:(first_frame + n_frames) * self.per_frame]
        frames = np.repeat(np.arange(first_frame, first_frame + n_frames), self.per_frame)
        return np.searchsorted(self.starts, frames, side="right") - 1


def _description(entry: dict) -> str:
    return f"{entry['arch']} {entry.get('arch_kwargs') or {}}" + (
        f" with {entry['cafm_chunks']} CaFM chunks" if entry.get("cafm_chunks") else "")


class TorchModel:
    """A package model rebuilt from the registry, run by PyTorch."""

    def __init__(self, package: Package, entry: dict, device: str, precision: str, threads: int, base=None):
        import torch

        from .. import infer, models

        self.torch, self.infer = torch, infer
        self.device = infer.setup(device, threads)
        self.model = _rebuilt(models, torch, {**entry, "scale": package.manifest["scale"]}, package)
        if has_weights(entry):
            path, _, weights = model_graph(package, entry, base)
            weights = {k: torch.from_numpy(v) for k, v in weights.items()}
            try:
                self.model.load_state_dict(weights)
            except RuntimeError:
                raise InputError(f"{path}: weights do not match the manifest's model ({_description(entry)})") from None
        self.model = infer.for_inference(self.model, self.device)
        self.precision = precision

    def __call__(self, lr: np.ndarray, cafm_chunk: int | None) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode(), self.infer.autocast(self.device, self.precision):
            x = self.infer.to_tensor(lr, self.device)
            out = self.model(x) if cafm_chunk is None else self.model(x, cafm_chunk)
            return self.infer.to_uint8(out)


def _rebuilt(models, torch, meta: dict, package: Package):
    """The registry's model of a manifest entry, built on torch's meta device first (nothing allocated) so that
    arch_kwargs the architecture refuses, or a model larger than the entry's params, are refused in one line."""
    where = f"{package.path(MANIFEST)}: model {meta.get('file') or meta['arch']}"
    try:
        with torch.device("meta"):
            sized = models.build_from_meta(meta)
    except (TypeError, ValueError, RuntimeError, InputError) as err:
        raise InputError(f"{where}: arch_kwargs {meta.get('arch_kwargs')} build no {meta['arch']}: {err}") from None
    count = sum(p.numel() for p in sized.parameters())
    if count != meta["params"]:
        raise InputError(f"{where}: {meta['arch']} {meta.get('arch_kwargs')} has {count} parameters, the manifest says "
                         f"{meta['params']}")
    return models.build_from_meta(meta)


class OnnxModel:
    """A package model run by ONNX Runtime (fp32 compute on the fp16- or int8-stored weights)."""

    def __init__(self, package: Package, entry: dict, device: str, threads: int, base=None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        options.log_severity_level = 3
        # idle threads of one session's pool would spin while another session (model) runs: 2.6x slower
        # with four models on our CPU
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        if device == "cuda" or (device == "auto" and "CUDAExecutionProvider" in ort.get_available_providers()):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise InputError("device 'cuda': this onnxruntime has no CUDA execution provider")
            providers.insert(0, "CUDAExecutionProvider")
        if has_weights(entry):
            path, proto, _ = model_graph(package, entry, base)
        else:
            path, proto = "bicubic", onnx_model.bicubic_graph(package.manifest["scale"])
        try:
            self.session = ort.InferenceSession(proto.SerializeToString(), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types for a broken graph
            raise InputError(f"{Path(path).name}: ONNX Runtime cannot load it ({type(err).__name__})") from None

    def __call__(self, lr: np.ndarray, cafm_chunk: int | None) -> np.ndarray:
        x = np.ascontiguousarray(lr.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)
        feed = {"lr": x}
        if cafm_chunk is not None:
            feed["chunk"] = np.full(len(x), cafm_chunk, dtype=np.int64)
        out = self.session.run(["sr"], feed)[0]
        return np.clip(np.rint(out * np.float32(255.0)), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def has_weights(entry: dict) -> bool:
    """Whether a model entry runs a trained model (its own file or the resident base), not bicubic."""
    return bool(entry["file"] or entry.get("base"))


def resident_base(package: Package):
    """The resident base's graph and float32 weights as the client decodes them (None without a base)."""
    if package.base is None:
        return None
    proto = onnx_model.load(package.base, package.manifest["base"]["compression"])
    return proto, onnx_model.weights_of(proto, package.base)


def model_graph(package: Package, entry: dict, base) -> tuple:
    """(file, graph, {state_dict name: float32 array}) of a package model as the client runs it: its
    file's, weights decoded as stored; the resident base's (`base`: `resident_base`) for an entry that
    is the base; for a delta, the base's weights plus the file's in float32, and the graph computing
    with those sums (`onnx_model.with_weights`)."""
    if (entry.get("base") or entry.get("delta")) and base is None:
        raise InputError(f"{package.path(MANIFEST)}: a model entry refers to a resident base the manifest does "
                         f"not name")
    if entry.get("base"):
        path, proto = package.base, base[0]
    else:
        path = package.path(entry["file"])  # entries written before compression existed have none
        proto = onnx_model.load(path, entry.get("compression", "none"))
    weights = onnx_model.weights_of(proto, path)
    _check_onnx(path, entry, proto, weights)
    if not entry.get("delta"):
        return path, proto, weights
    weights = _plus_base(path, entry["delta"], weights, package.manifest["base"]["sha256"], base[1])
    return path, onnx_model.with_weights(proto, weights), weights


def _plus_base(path, delta: dict, weights: dict, base_sha256: str, base: dict) -> dict:
    """The weights of a delta file with the base's added back, in float32 (the same sums on every client)."""
    if delta["base"] != base_sha256:
        raise InputError(f"{path}: a delta against the base {delta['base']}, but the package's base is {base_sha256}")
    summed = dict(weights)
    for name, array in base.items():
        key = delta["prefix"] + name
        if key not in weights or weights[key].shape != array.shape:
            raise InputError(f"{path}: holds no delta '{key}' {array.shape} for the base's weight '{name}'")
        summed[key] = array + weights[key]
    return summed


def _check_onnx(path, entry: dict, proto, weights: dict) -> None:
    """The graph is self-describing; check it is the model the manifest announces (weights, inputs)."""
    weights, expected = sum(w.size for w in weights.values()), onnx_model.stored_count(entry)
    if weights != expected:
        raise InputError(f"{path}: holds {weights:,} weights, the manifest's model ({_description(entry)}) "
                         f"{expected:,}")
    takes_chunk = "chunk" in onnx_model.input_names(proto)
    if takes_chunk != bool(entry.get("cafm_chunks")):
        raise InputError(f"{path}: takes {'a' if takes_chunk else 'no'} chunk input, the manifest's model "
                         f"({_description(entry)}) {'does not' if takes_chunk else 'does'}")


def load_models(package: Package, runtime: str, device: str, precision: str, threads: int,
                needed: set[int] | None = None) -> list:
    """A runner per model entry of the package (None for an entry outside `needed`, when given: a streaming
    client holds only the models of the segments it plays)."""
    if runtime not in RUNTIMES:
        raise InputError(f"runtime '{runtime}': choose one of {', '.join(RUNTIMES)}")
    if precision not in PRECISIONS or (runtime == "onnx" and precision != "fp32"):
        raise InputError(f"precision '{precision}': the {runtime} runtime runs "
                         f"{'fp32 or bf16' if runtime == 'torch' else 'fp32 only'}")
    base = resident_base(package)

    def runner(entry):
        if runtime == "torch":
            return TorchModel(package, entry, device, precision, threads, base)
        return OnnxModel(package, entry, device, threads, base)

    return [runner(entry) if needed is None or i in needed else None
            for i, entry in enumerate(package.manifest["models"])]




def playback(manifest: dict, device: str = "cpu", **overrides) -> dict:
    """How to play a package on `device`: the settings the server evaluated it with (the manifest's
    `playback`), with the caller's overrides (None keeps the manifest's); precision 'auto' as it runs there."""
    settings = {**PLAYBACK, **manifest.get("playback", {})}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    if settings["precision"] == "auto":
        settings["precision"] = _auto_precision(settings["runtime"], device)
    return settings


def _auto_precision(runtime: str, device: str) -> str:
    """ONNX Runtime computes in fp32 whatever the weights are stored as; PyTorch runs bf16 where the device has
    native bf16 matrix units (`stdo.infer.choose_precision`)."""
    if runtime != "torch":
        return "fp32"
    from .. import infer

    return infer.choose_precision("auto", infer.device_of(device))


def upscale(package: Package, *, runtime: str | None = None, device: str = "cpu", precision: str | None = None,
            pad: int | None = None, batch: int | None = None, block_frames: int | None = None,
            threads: int = 1) -> Iterator[np.ndarray]:
    """The package's SR frames, (H, W, 3) uint8, one at a time (memory bounded by the block).

    Unless overridden, every setting is the one the server evaluated the package with, so the frames
    are the evaluated frames. `batch` caps the patches of one forward pass (small batches keep the
    activations in cache: 16 patches of 32x36 LR px ran 1.5x faster than 64 on our CPU)."""
    m = package.manifest
    play = playback(m, device, runtime=runtime, precision=precision, pad=pad, batch=batch, block_frames=block_frames)
    runners = load_models(package, play["runtime"], device, play["precision"], threads)
    frames = stream.decode(package.stream)
    done = 0
    for frame in super_resolve(m, frames, 0, Router(package).chunks, runners, play, package.stream):
        done += 1
        yield frame
    if done != m["frames"]:
        raise InputError(f"{package.stream}: decoded {done} frames, the manifest says {m['frames']}")


def super_resolve(m: dict, frames, first_frame: int, chunks_of, runners: list, play: dict,
                  source) -> Iterator[np.ndarray]:
    """The SR frames of decoded LR `frames` that start at frame `first_frame` of the video: blocks of
    `play['block_frames']` frames, each patch through its chunk's model (`chunks_of(first, count)`: the chunk of
    every patch of those frames), in batches of at most `play['batch']` patches of one chunk. Blocks are counted
    from the video's first frame, so a span played alone is batched as the whole video is, frame for frame."""
    grid, scale, pad, chunk_model = grid_of(m), m["scale"], int(play["pad"]), m["routing"]["chunk_model"]
    done = first_frame
    for block in _blocks(frames, play["block_frames"], m["lr_size"], source, first_frame):
        patches = cut_with_context(block, grid, pad)
        chunk = chunks_of(done, len(block))
        if len(chunk) != len(patches):
            raise InputError(f"{source}: more frames than the manifest's {m['frames']}")
        sr = np.empty((len(patches), grid.patch_h * scale, grid.patch_w * scale, 3), np.uint8)
        for c, part in batches(chunk, play["batch"]):
            model, cafm_chunk = chunk_model[c]
            out = runners[model](patches[part], cafm_chunk)
            sr[part] = out[:, pad * scale: pad * scale + grid.patch_h * scale,
                           pad * scale: pad * scale + grid.patch_w * scale]
        done += len(block)
        yield from stitch(sr, grid)


def batches(chunk: np.ndarray, size: int) -> Iterator[tuple[int, np.ndarray]]:
    """(chunk, patch indices) of every forward pass over a block: each chunk's patches, in nearly
    equal parts of at most `size`."""
    for c in np.unique(chunk):
        where = np.flatnonzero(chunk == c)
        yield from ((int(c), part) for part in np.array_split(where, -(-len(where) // size)))


def _blocks(frames, size: int, lr_size, source, first_frame: int = 0) -> Iterator[np.ndarray]:
    """Blocks of frames that end where the video's blocks of `size` frames (from its first frame) end."""
    block, index = [], first_frame
    for frame in frames:
        if [frame.shape[1], frame.shape[0]] != list(lr_size):
            raise InputError(f"{source}: frame of {frame.shape[1]}x{frame.shape[0]}, the manifest says "
                             f"{lr_size[0]}x{lr_size[1]}")
        block.append(frame)
        index += 1
        if index % size == 0:
            yield np.stack(block)
            block = []
    if block:
        yield np.stack(block)
