"""The codec map (issue 26): one table over several runs of config/experiments/codecs.yaml, one per encoder.

From each run's rd.csv it computes, with the pipeline's own functions (`stdo.rd.bd_table`, `stdo.hull`), the
BD-rate of every client option against the same encoder at HR (VMAF-NEG / PSNR-Y, every byte counted; a value
the overlap cannot carry is shown as unreliable, with the value after the colon) and the BD-rates of the per-title
ladders (SR rungs added to the bicubic ladder; SR ladder against HR alone), per clip and scale.

    python benchmarks/codec_map.py results_codecs/libx265/rd.csv results_codecs/libsvtav1/rd.csv ...
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from stdo import hull, rd
from stdo.report.document import Heading, Table, markdown

QUALITIES = ("vmaf_neg", "rd_psnr_y")


def cell(values, reasons) -> str:
    shown = []
    for value, reason in zip(values, reasons):
        if isinstance(reason, str) and "unreliable" in reason:
            shown.append(f"unreliable ({reason.rsplit(': ', 1)[-1]})")  # the value the thin overlap gives
        else:
            shown.append("n/a" if np.isnan(value) else f"{value:+.1f}")
    return " / ".join(shown)


def against_hr(table: pd.DataFrame, encoder: str) -> pd.DataFrame:
    bd = rd.bd_table(table)
    rows = []
    for (video, scale), group in bd.groupby(["video", "scale"], sort=False):
        row = {"encoder": encoder, "clip": video, "scale": f"x{scale}"}
        for r in group.itertuples():
            row[r.method] = cell([getattr(r, f"bd_rate_{q}") for q in QUALITIES],
                                 [getattr(r, f"why_{q}") for q in QUALITIES])
        rows.append(row)
    return pd.DataFrame(rows)


def ladders(table: pd.DataFrame, encoder: str) -> pd.DataFrame:
    bd = hull.bd_rates(hull.on_hulls(table))
    rows = []
    for video, group in bd.groupby("video", sort=False):
        row = {"encoder": encoder, "clip": video}
        for test, anchor in hull.PAIRS:
            pick = group[(group["test"] == hull.HULLS[test]) & (group["anchor"] == hull.HULLS[anchor])]
            by_quality = {r.quality: (r.bd_rate, r.why) for r in pick.itertuples()}
            pairs = [by_quality.get(hull.QUALITIES[q], (np.nan, None)) for q in QUALITIES]
            row[f"{test} vs {anchor}"] = cell([p[0] for p in pairs], [p[1] for p in pairs])
        rows.append(row)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rd_csv", nargs="+", help="each encoder's results/rd.csv")
    args = parser.parse_args()
    direct, hulls = [], []
    for path in args.rd_csv:
        table = pd.read_csv(path)
        encoder = table.loc[table["method"] == rd.ANCHOR, "encoder"].iloc[0]
        direct.append(against_hr(table, encoder))
        hulls.append(ladders(table, encoder))
    sys.stdout.write(markdown([
        Heading("BD-rate % against the same encoder at HR, VMAF-NEG / PSNR-Y (every byte counted)"),
        Table(pd.concat(direct, ignore_index=True).fillna("-")),
        Heading("Per-title ladders: BD-rate % of one hull against another, VMAF-NEG / PSNR-Y"),
        Table(pd.concat(hulls, ignore_index=True)),
    ]))


if __name__ == "__main__":
    main()
