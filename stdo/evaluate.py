"""Stage: evaluate a package the way its viewer receives it.

The package is played by the client's own decode-and-upscale function (`stdo.delivery.player`),
every frame, and the SR video is scored against the original HR frames under every convention
(`stdo.metrics`, `stdo.quality`):
- the papers': per-patch MSE per chunk and STDO's `-10 log10(mean of chunk MSE)` over all patches
  of all frames, and whole-frame PSNR / SSIM on the evaluation frames (shave = scale);
- the codec world's: PSNR (RGB, Y), SSIM and VMAF over every frame, whole frame, nothing shaved;
and the delivered bytes are measured on the package's files (a resident base the package needs is
not delivered per video: `base` names it and the `*_with_base` columns add its bytes). A sha256 of the
SR frames lets the client prove it shows exactly what was measured. The HR codec baseline is scored
the same way."""
from __future__ import annotations

import hashlib
import logging
import math

import numpy as np
import pandas as pd

from . import metrics
from .cluster import load_chunks
from .curves import convergence
from .delivery import stream
from .delivery.manifest import base_label, open_package
from .delivery.player import playback, upscale
from .errors import InputError
from .io import load_frames, load_json, save_json
from .patches import grid_of
from .quality import VideoQuality

log = logging.getLogger(__name__)


# the kbit/s columns and the byte counts they are of
KBPS = {"kbps_stream": "stream_bytes", "kbps_models_and_map": "models_and_map_bytes", "kbps_package": "package_bytes",
        "kbps_package_with_base": "package_bytes_with_base"}


def kbps(n_bytes: int, frames: int, fps: float) -> float:
    return 8 * n_bytes / (frames / fps) / 1000


class Scorer:
    """Every score of an SR video, fed frame by frame: the papers' per-patch and evaluation-frame
    scores and the codec-style whole-video scores, plus a hash of the frames."""

    def __init__(self, hr_path, fps: float, threads: int, table: pd.DataFrame | None = None, scale: int = 1,
                 vmaf_subsample: int = 1):
        self.hr, self.table, self.scale = load_frames(hr_path), table, scale
        self.quality = VideoQuality(hr_path, fps=fps, threads=threads, vmaf_subsample=vmaf_subsample)
        self.digest, self.count = hashlib.sha256(), 0
        if table is not None:
            self.grid = grid_of(table, scale)
            self.eval_frames = set(table.loc[table["is_eval"], "frame"].unique().tolist())
            self.patch_mse = np.empty(len(table))
            self.frame_scores = []

    def __enter__(self):
        self.quality.__enter__()
        return self

    def __exit__(self, *exc):
        return self.quality.__exit__(*exc)

    def add(self, frame: np.ndarray) -> None:
        i = self.count
        if i >= len(self.hr):
            raise InputError(f"the SR video has more frames than the {len(self.hr)} HR frames")
        self.quality.add(frame)
        self.digest.update(np.ascontiguousarray(frame).tobytes())
        if self.table is not None:
            hr = np.asarray(self.hr[i:i + 1])
            rows = slice(i * self.grid.per_frame, (i + 1) * self.grid.per_frame)
            self.patch_mse[rows] = metrics.patch_mse(frame[None], hr, self.grid, metrics.stdo_shave(self.scale))
            if i in self.eval_frames:
                self.frame_scores.append(metrics.frame_scores(frame[None], hr, self.scale))
        self.count += 1

    def result(self, chunk: np.ndarray | None = None) -> dict:
        video = self.quality.result()
        out = {"frames": video["frames"], "rd_psnr_rgb": video["psnr_rgb"], "rd_psnr_y": video["psnr_y"],
               "rd_ssim": video["ssim"], "vmaf": video["vmaf"], "vmaf_neg": video["vmaf_neg"],
               "vmaf_model": video["vmaf_model"],
               "vmaf_subsample": video["vmaf_subsample"],
               "rd_psnr_y_per_frame": video["per_frame"]["psnr_y"], "vmaf_per_frame": video["per_frame"]["vmaf"],
               "sr_sha256": self.digest.hexdigest()}
        if self.table is None:
            return out
        chunk = np.zeros(len(self.table), np.int64) if chunk is None else chunk
        k = int(chunk.max()) + 1
        chunk_mse = [float(self.patch_mse[chunk == c].mean()) for c in range(k)]
        pooled = {key: np.concatenate([s[key] for s in self.frame_scores]) for key in self.frame_scores[0]}
        return {**out, "k": k, "chunk_sizes": np.bincount(chunk, minlength=k).tolist(), "chunk_mse": chunk_mse,
                "psnr_stdo_patch": float(metrics.psnr(np.mean(chunk_mse))),
                "psnr_patch_mean": float(np.mean(metrics.psnr(self.patch_mse))),
                "patches": len(self.table), "eval_frames": len(self.eval_frames),
                "eval_frame_ids": sorted(self.eval_frames), **metrics.pool_frame_scores(pooled)}


def steps_trained(info: dict | None, metas: list[dict]) -> dict:
    """The step budget of a method given in epochs, known only once its models are trained (their sidecars)."""
    if not (info or {}).get("epochs"):
        return {}
    budgets = [m["budget_steps"] for m in metas if "budget_steps" in m]
    return {"steps": budgets[0]} if budgets else {}


def model_summary(manifest: dict, metas: list[dict]) -> dict:
    """Parameters the client runs and stores, and the training seconds of the models (their sidecars, loaded)."""
    entries = manifest["models"]
    total = sum(e["params"] for e in entries)
    first = entries[0]
    per_model = first["params"]
    if first.get("cafm_chunks"):  # the backbone plus one chunk's modules
        per_model = total - (first["cafm_chunks"] - 1) * metas[0].get("params_per_chunk", 0)
    routing = manifest["routing"]
    map_bits = (manifest["frames"] * manifest["grid"]["rows"] * manifest["grid"]["cols"]
                * math.ceil(math.log2(routing["k"])) if routing["by"] == "map" else 0)
    ships = routing.get("ships", [])
    return {"models": len([e for e in entries if e["file"]]), "arch": first["arch"], "total_params": total,
            "deltas": sum(bool(e.get("delta")) for e in entries),
            "fallbacks": sum(s != "trained" for s in ships) if ships else None, "ships": ships,
            "params_per_model": per_model, "map_bits": map_bits,
            "train_seconds": round(sum(m.get("train_seconds", 0.0) for m in metas), 1),
            **convergence(m.get("curve_rise_db") for m in metas if "budget_steps" in m)}


def evaluate(package_path, hr_path, patches_path, out, *, chunks_path=None, model_meta_paths=(),
             papers_metrics: bool = True, device: str = "cpu", threads: int = 1, vmaf_subsample: int = 1,
             base_dir=None, info: dict | None = None) -> dict:
    """Play the package as its manifest says it is played, score every frame, write metrics.json.

    `papers_metrics`: also the papers' per-patch and evaluation-frame scores. They measure how well
    models overfit the frames they were trained on, so the workflow asks for them where the package
    carries those frames (its rate point is the one the models were trained at). `vmaf_subsample`:
    VMAF and SSIM on every n-th frame only (`stdo.quality`). `base_dir`: the client's bases folder, where
    the resident base a package needs is found."""
    package = open_package(package_path, base_dir=base_dir)
    m = package.manifest
    table = pd.read_parquet(patches_path).sort_values("patch_id", ignore_index=True) if papers_metrics else None
    with Scorer(hr_path, m["fps"], threads, table, m["scale"], vmaf_subsample) as scorer:
        for frame in upscale(package, device=device, threads=threads):
            scorer.add(frame)
        scores = scorer.result(load_chunks(chunks_path) if chunks_path else None)
    sizes = package.bytes_by_role()
    metas = [load_json(path) for path in model_meta_paths]  # the shipped models' sidecars, read once
    play = playback(m, device)
    result = {**(info or {}), "scale": m["scale"], "fps": m["fps"], "pad": play["pad"],
              "playback": f"{play['runtime']} {play['precision']}, pad {play['pad']}",
              "encoder": m["stream"].get("encoder"), "stream": _settings(m["stream"]), "base": base_label(m),
              **model_summary(m, metas), **steps_trained(info, metas), **sizes,
              **{rate: kbps(sizes[size], m["frames"], m["fps"]) for rate, size in KBPS.items()}, **scores}
    save_json(result, out)
    log.info("%s at %s: %.1f kbit/s, PSNR-Y %.2f dB, VMAF %.2f", result.get("method"), result.get("rate"),
             result["kbps_package"], result["rd_psnr_y"], result["vmaf"])
    return result


def _settings(stream: dict) -> str:
    """One short string for tables: the encoder and its rate setting."""
    if stream["rate_control"] == "lossless":
        return f"{stream['encoder']} lossless"
    rate = f"crf {stream['crf']}" if stream["rate_control"] == "crf" else f"{stream['bitrate_kbps']:g} kbit/s"
    return f"{stream['encoder']} {stream['preset']} {rate}"


def score_stream(stream_path, hr_path, *, fps: float, threads: int = 1, vmaf_subsample: int = 1) -> dict:
    """Codec-style scores of a decoded video against the HR frames (the HR codec baseline)."""
    with Scorer(hr_path, fps, threads, vmaf_subsample=vmaf_subsample) as scorer:
        for frame in stream.decode(stream_path):
            scorer.add(frame)
        return scorer.result()
