"""Stage: evaluate a package the way its viewer receives it.

The package is played by the client's own decode-and-upscale function (`stdo.delivery.player`), every frame, and
the SR video is scored against the original HR frames under every convention (`stdo.scoring`; the conventions of
every measure are stated in `stdo.measures`): the papers' per-patch and evaluation-frame scores, and the codec
world's over every frame; and the delivered bytes are measured on the package's files (a resident base the package
needs is not delivered per video: `base` names it and the `*_with_base` columns add its bytes). A sha256 of the SR
frames lets the client prove it shows exactly what was measured. The HR codec baseline is scored the same way."""
from __future__ import annotations

import logging
import math

import pandas as pd

from .delivery.manifest import base_label, open_package
from .delivery.player import playback, upscale
from .io import load_chunks, load_json, save_json
from .learning import convergence
from .scoring import Scorer, kbps

log = logging.getLogger(__name__)


# the kbit/s columns and the byte counts they are of
KBPS = {"kbps_stream": "stream_bytes", "kbps_models_and_map": "models_and_map_bytes", "kbps_package": "package_bytes",
        "kbps_package_with_base": "package_bytes_with_base"}


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
