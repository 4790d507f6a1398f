"""What int8 weights and zlib-compressed model files cost and save, on the trained models of a finished run.

For every method of the run (and the general model) at the lossless rate point, builds its package as the
workflow's package rule does (same stream, patch table, chunks, selection, general model and playback) with
`stdo.package.build`, four times: fp16 (the baseline, the default: its frames must be the run's own,
checked against the run's metrics.json), fp16 + zlib, int8, int8 + zlib. Scores the fp16 and the int8 + zlib
packages with `stdo.evaluate.evaluate` (compression is lossless: int8 + zlib plays the int8 frames) and
prints, per method, the model bytes of each package and their ratio to fp16, and PSNR-Y (every frame, whole
frame) and STDO's patch PSNR of fp16 and int8, with the difference. The run is only read; the packages
go to --out.

    python benchmarks/weights.py [--run results] [--resources resources] [--config config/config.yaml] \
        --out SCRATCH [--threads 1]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import yaml

from stdo import config as stdo_config
from stdo import vocabulary
from stdo.evaluate import evaluate
from stdo.infer import machine_line
from stdo.package import build
from stdo.report.document import Table, markdown

REPO = Path(__file__).resolve().parents[1]
RATE = vocabulary.LOSSLESS
STORAGE = {"fp16": ("fp16", "none"), "fp16+zlib": ("fp16", "zlib"), "int8": ("int8", "none"),
           "int8+zlib": ("int8", "zlib")}
SCORED = ("fp16", "int8+zlib")


def general_path(cfg: dict, resources: Path, scale: int) -> Path:
    return resources / "general" / f"x{scale}-{stdo_config.general_hash(cfg, scale)}.pt"


def inputs(cfg: dict, run: Path, resources: Path, video: str, scale: int, method: str, rate: str = RATE) -> dict:
    """The package rule's inputs (workflow/rules/common.smk package_inputs) as build's keyword arguments."""
    x = run / video / f"x{scale}"
    trained = x / method / stdo_config.train_rate(cfg, rate)
    general = general_path(cfg, resources, scale)
    stream = "stream.mkv" if rate == vocabulary.LOSSLESS else "stream.mp4"
    args = {"stream_path": x / "lr" / rate / stream, "codec_path": x / "lr" / rate / "codec.json",
            "patches_path": x / "lr" / stdo_config.train_rate(cfg, rate) / "patches.parquet",
            "meta_path": run / video / "frames" / "meta.json", "scale": scale,
            "playback": stdo_config.package_params(cfg)["playback"]}
    if method == "general":
        return {**args, "model_paths": [general]}
    args |= {"model_paths": [trained / name for name in stdo_config.model_files(cfg, method)],
             "chunks_path": trained / "chunks.parquet"}
    return args | ({"selection_path": trained / "selection.json", "general_path": general} if cfg["select"] else {})


def score(args: dict, folder: Path, hr: Path, threads: int, **kwargs) -> dict:
    """`evaluate` of the package in `folder`, built from `args` (`inputs`); its metrics go beside it."""
    metas = [Path(p).with_suffix(".json") for p in args["model_paths"]]
    return evaluate(folder, hr, args["patches_path"], folder.with_suffix(".json"), chunks_path=args.get("chunks_path"),
                    model_meta_paths=metas, threads=threads, **kwargs)


def measure(cfg, run, resources, out: Path, video: str, scale: int, method: str, threads: int) -> dict:
    args = inputs(cfg, run, resources, video, scale, method)
    row = {"method": method}
    for name, (weights, compression) in STORAGE.items():
        folder = out / video / f"x{scale}" / method / name
        manifest = build(**args, out_dir=folder, weights=weights, compression=compression,
                         info={"method": method, "rate": RATE}, threads=threads)
        row[f"bytes {name}"] = sum(manifest["files"][e["file"]]["bytes"] for e in manifest["models"] if e["file"])
        if name in SCORED:
            row[name] = score(args, folder, run / video / "frames" / "hr.npy", threads,
                              info={"method": method, "rate": RATE})
    own = json.loads((run / video / f"x{scale}" / method / RATE / "metrics.json").read_text())
    row["fp16 frames are the run's"] = row["fp16"]["sr_sha256"] == own["sr_sha256"]
    return row


def table(rows: list[dict]) -> str:
    shown = []
    for r in rows:
        base, new = r["fp16"], r["int8+zlib"]
        row = {"method": r["method"], **{name if name != "fp16" else "fp16 bytes": f"{r[f'bytes {name}']:,}"
                                         for name in STORAGE},
               "int8+zlib / fp16": f"{r['bytes int8+zlib'] / r['bytes fp16']:.1%}"}
        for key, label in (("rd_psnr_y", "PSNR-Y"), ("psnr_stdo_patch", "patch PSNR")):
            row.update({f"{label} fp16": f"{base[key]:.3f}", f"{label} int8": f"{new[key]:.3f}",
                        f"{label} diff": f"{new[key] - base[key]:+.3f}"})
        shown.append({**row, "fp16 = run's frames": "yes" if r["fp16 frames are the run's"] else "NO"})
    return markdown([Table(pd.DataFrame(shown))])


def run_arguments(description: str, out_help: str) -> argparse.ArgumentParser:
    """The arguments of a benchmark on a finished run's models (this one and delta.py)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--run", type=Path, default=REPO / "results", help="results folder of a finished run")
    ap.add_argument("--resources", type=Path, default=None, help="its resources folder (default: beside --run)")
    ap.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml", help="the run's config")
    ap.add_argument("--out", type=Path, required=True, help=f"{out_help} (a scratch folder)")
    ap.add_argument("--threads", type=int, default=1)
    return ap


def load_run(args) -> tuple[dict, Path]:
    """The run's validated config and its resources folder."""
    cfg = stdo_config.load(yaml.safe_load(args.config.read_text()), REPO / "workflow/schemas/config.schema.yaml")
    return cfg, args.resources or args.run.with_name("resources")


def main() -> None:
    args = run_arguments(__doc__.splitlines()[0], "where the packages go").parse_args()
    print(machine_line())
    cfg, resources = load_run(args)
    rows = [measure(cfg, args.run, resources, args.out, video, scale, method, args.threads)
            for video in cfg["videos"] for scale in cfg["scales"] for method in ["general", *cfg["methods"]]]
    (args.out / "weights.json").write_text(json.dumps(rows, indent=1, default=str))
    print(f"{', '.join(cfg['videos'])} x{', x'.join(map(str, cfg['scales']))}, {RATE}: model bytes (package files) "
          f"and scores, int8 + zlib against fp16 (the default) measured in the same run")
    print(table(rows))


if __name__ == "__main__":
    main()
