"""What a resident base and per-video deltas send and cost, on the trained models of a finished run.

For every method of the run (and the general model) at the lossless rate point and at one lossy rate
point (--rates), builds the package as the workflow's package rule does (`weights.inputs`) with the
general model resident at the client (package.base: resident), three ways:
  fp16       ship weights, fp16 files (the base fp16): only the general model's file is no longer sent;
  int8+zlib  ship weights, int8 + zlib files (the base int8 + zlib too);
  delta      ship delta: warm-started models as int8 + zlib deltas to the fp16 base;
and scores each with `stdo.evaluate.evaluate`, the client's own playback (the papers' patch PSNR at both
rates). Prints, per row, the bytes sent per video and with the base counted too, the model overhead in
kbit/s over the clip (everything but the LR stream: models, chunk map, manifest), and PSNR-Y, VMAF and
patch PSNR; and, for reference, the run's own package (fp16, no base: its metrics.json). Checks that the
fp16 package plays the run's own frames (resident or not, the same weights); its manifest describes the
row as the run's does, so that bytes differ only by what the format records. The run is only read; the
bases and packages go to --out.

    python benchmarks/delta.py [--run results] [--resources resources] [--config config/config.yaml] \
        [--rates lossless crf33] --out SCRATCH [--threads 1]
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from weights import general_path, inputs, load_run, run_arguments, score

from stdo import vocabulary
from stdo.infer import machine_line
from stdo.package import build, write_base
from stdo.report.document import Table, markdown, number

# name -> (build's storage and ship, the base's storage)
WAYS = {"fp16": ({"weights": "fp16", "compression": "none", "ship": "weights"}, ("fp16", "none")),
        "int8+zlib": ({"weights": "int8", "compression": "zlib", "ship": "weights"}, ("int8", "zlib")),
        "delta": ({"weights": "fp16", "compression": "none", "ship": "delta"}, ("fp16", "none"))}
SCORES = ("rd_psnr_y", "vmaf", "psnr_stdo_patch")
SAME = "same frames as the run's"


def overhead_kbps(m: dict, total: str) -> float:
    """kbit/s over the clip of everything but the LR stream."""
    return m[f"kbps_{total}"] - m["kbps_stream"]


def measure(cfg, run: Path, resources: Path, out: Path, video: str, scale: int, method: str, rate: str,
            threads: int) -> list[dict]:
    args = inputs(cfg, run, resources, video, scale, method, rate)
    made = run / video / f"x{scale}" / method / rate
    own = json.loads((made / "metrics.json").read_text())
    # the run's own description of the row: manifests differ only by what the format records
    info = {k: v for k, v in json.loads((made / "package" / "manifest.json").read_text())["about"].items()
            if k != "made_by"}
    rows = [{"method": method, "rate": rate, "way": "run's (fp16, no base)", **own}]
    for way, (storage, (weights, compression)) in WAYS.items():
        entry = out / "bases" / f"x{scale}-{weights}-{compression}.json"
        if not entry.exists():
            write_base(general_path(cfg, resources, scale), entry, weights=weights, compression=compression)
        folder = out / video / f"x{scale}" / method / rate / way
        build(**args, out_dir=folder, base_path=entry, info=info, threads=threads, **storage)
        rows.append({"method": method, "rate": rate, "way": way,
                     **score(args, folder, run / video / "frames" / "hr.npy", threads, base_dir=entry.parent,
                             info=info)})
    rows[1][SAME] = rows[1]["sr_sha256"] == own["sr_sha256"]
    return rows


def table(rows: list[dict]) -> str:
    shown = []
    for r in rows:
        with_base = r.get("package_bytes_with_base", r["package_bytes"])
        kbps_with_base = overhead_kbps(r, "package_with_base" if "kbps_package_with_base" in r else "package")
        shown.append({"method": r["method"], "rate": r["rate"], "way": r["way"], "base": r.get("base", "none"),
                      "deltas": str(r.get("deltas", 0)), "bytes per video": f"{r['package_bytes']:,}",
                      "bytes with base": f"{with_base:,}",
                      "model kbit/s per video": f"{overhead_kbps(r, 'package'):.1f}",
                      "model kbit/s with base": f"{kbps_with_base:.1f}",
                      **{name: number(r.get(k), 3) for name, k in zip(("PSNR-Y", "VMAF", "patch PSNR"), SCORES)}})
    return markdown([Table(pd.DataFrame(shown))])


def main() -> None:
    ap = run_arguments(__doc__.splitlines()[0], "where the bases and packages go")
    ap.add_argument("--rates", nargs="+", default=[vocabulary.LOSSLESS, "crf33"], help="rate points of the run")
    args = ap.parse_args()
    print(machine_line())
    cfg, resources = load_run(args)
    rows = [row for video in cfg["videos"] for scale in cfg["scales"] for rate in args.rates
            for method in ["general", *cfg["methods"]]
            for row in measure(cfg, args.run, resources, args.out, video, scale, method, rate, args.threads)]
    keep = ("method", "rate", "way", "base", "deltas", "package_bytes", "package_bytes_with_base", "stream_bytes",
            "kbps_stream", "kbps_package", "kbps_package_with_base", "sr_sha256", SAME, *SCORES)
    (args.out / "delta.json").write_text(json.dumps([{k: r[k] for k in keep if k in r} for r in rows], indent=1))
    print(f"{', '.join(cfg['videos'])} x{', x'.join(map(str, cfg['scales']))}: bytes sent per video and with the "
          f"resident base counted, model overhead over the clip, and scores; fp16 plays the run's frames: "
          f"{all(r[SAME] for r in rows if SAME in r)}")
    print(table(rows))


if __name__ == "__main__":
    main()
