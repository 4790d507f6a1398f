"""Rate-distortion: every method's package against the codec alone, at the same bytes.

A method's curve is its packages at the codec's rate points (the lossless point is left out: it is
not a rate anyone streams at), each at its total delivered kbit/s (`kbps_package`; a resident base, installed
with the player once, is not counted per video, and the `_with_base` columns and BD-rates add its bytes to every
package). The anchor is the HR video through the same encoder (`hr_codec`); the LR stream with a bicubic upscale
at the client is the `bicubic` row. BD-rate (`stdo.bdrate`, piecewise cubic) says how many more (+) or fewer (-)
bits a method needs than the anchor for the same PSNR-Y or VMAF, over the quality range both curves cover. The
conventions of every measure here are `stdo.measures`'."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import bdrate  # noqa: E402
from .io import save_png  # noqa: E402
from .measures import describe, heading, legend, measure  # noqa: E402
from .report.document import Note, Table  # noqa: E402
from .vocabulary import LOSSLESS, REFERENCE_METHODS  # noqa: E402

ANCHOR = "hr_codec"
RD_COLUMNS = ["video", "scale", "method", "rate", "train_rate", "encoder", "stream", "frames", "fps",
              "stream_bytes", "models_and_map_bytes", "package_bytes", "base", "base_bytes", "package_bytes_with_base",
              "kbps_stream", "kbps_models_and_map", "kbps_package", "kbps_package_with_base", "rd_psnr_rgb",
              "rd_psnr_y", "rd_ssim", "vmaf", "vmaf_neg", "vmaf_model"]
# The qualities of the curves, by their label and unit as hull.csv names them ('PSNR-Y dB', 'VMAF-NEG', 'VMAF')
QUALITIES = {q: f"{measure(q).label} {measure(q).unit}".strip() for q in ("rd_psnr_y", "vmaf_neg", "vmaf")}
# BD-rates count every byte of the package; the second kind counts the LR stream only, as if the models
# cost nothing: what overfitting buys once the model bytes are amortised (a long video, a resident model);
# the third adds a resident base's bytes to every package, as for a client that does not hold it.
RATES = {"": "kbps_package", "_stream_only": "kbps_stream", "_with_base": "kbps_package_with_base"}
NO_BASE = "none"
WITH_BASE = {"package_bytes_with_base": "package_bytes", "kbps_package_with_base": "kbps_package"}
# The legend of the rate-distortion measures: their conventions (stdo.measures), and the rows besides the methods'
LEGEND = Note("Rate-distortion conventions:", (
    *legend(["kbps_package", "kbps_stream", "kbps_models_and_map", "rd_psnr_rgb", "rd_psnr_y", "rd_ssim", "vmaf",
             "vmaf_neg"]),
    "hr_codec = the HR frames through the same encoder (the anchor of the BD-rates); bicubic = the LR stream upscaled "
    "by bicubic at the client."))


def fill_base(table: pd.DataFrame) -> pd.DataFrame:
    """Rows measured before resident bases existed (and the HR codec's) assume none: their counts with a
    base are their own counts."""
    table = table.assign(base=table["base"].astype(object).fillna(NO_BASE), base_bytes=table["base_bytes"].fillna(0))
    for with_base, alone in WITH_BASE.items():
        table[with_base] = table[with_base].fillna(table[alone])
    return table


def resident(table: pd.DataFrame) -> bool:
    """Whether some row assumes a resident base."""
    return bool((table["base"] != NO_BASE).any())


def rd_table(rows: list[dict]) -> pd.DataFrame:
    table = fill_base(pd.DataFrame(rows).reindex(columns=RD_COLUMNS))
    table["scale"] = table["scale"].astype(int)
    return table.sort_values(["video", "scale", "method", "kbps_package"], kind="stable", ignore_index=True)


def curves(table: pd.DataFrame):
    """(video, scale) -> {method: its lossy points sorted by rate}, the anchor included in every scale."""
    lossy = table[table["rate"] != LOSSLESS]
    anchor = lossy[lossy["method"] == ANCHOR]
    out = {}
    for (video, scale), rows in lossy[lossy["method"] != ANCHOR].groupby(["video", "scale"], sort=False):
        methods = {m: r.sort_values("kbps_package") for m, r in rows.groupby("method", sort=False)}
        hr = anchor[anchor["video"] == video].sort_values("kbps_package")
        out[(video, scale)] = {ANCHOR: hr, **methods} if len(hr) else methods
    return out


def bd_table(table: pd.DataFrame, order=None) -> pd.DataFrame:
    """BD-rate (%) of every method against the HR codec, for PSNR-Y and VMAF, with its reason when n/a."""
    records = []
    for (video, scale), methods in curves(table).items():
        anchor = methods.get(ANCHOR)
        for method, points in methods.items():
            if method == ANCHOR:
                continue
            record = {"video": video, "scale": scale, "method": method, "points": len(points),
                      "anchor_points": 0 if anchor is None else len(anchor),
                      "base": ", ".join(dict.fromkeys(points["base"]))}
            for quality in QUALITIES:
                for suffix, rate in RATES.items():
                    value, reason = bd_rate_of(anchor, points, quality, rate)
                    record[f"bd_rate_{quality}{suffix}"], record[f"why_{quality}{suffix}"] = value, reason
            records.append(record)
    bd = pd.DataFrame(records)
    if order is not None and len(bd):
        bd = bd.sort_values("method", key=lambda s: s.map({m: i for i, m in enumerate(order)}), kind="stable")
    return bd


def bd_rate_of(anchor, points, quality: str, rate: str = "kbps_package") -> tuple[float, str | None]:
    """BD-rate (%) of `points` against `anchor` on `quality`, and why it is n/a: undefined, or integrated over an
    overlap too thin to trust (`bdrate.bd_rate_trust`: NaN then, the value in the reason)."""
    if anchor is None or not len(anchor):
        return float("nan"), "no HR codec baseline"
    args = (anchor["kbps_package"], anchor[quality], points[rate], points[quality])
    value = bdrate.bd_rate(*args)
    if np.isnan(value):
        return value, bdrate.bd_rate_reason(*args)
    thin = bdrate.bd_rate_trust(anchor[quality], points[quality])[1]
    return (float("nan"), f"unreliable, {thin}: {value:+.1f}") if thin else (value, None)


VERDICT_QUALITIES = ("vmaf_neg", "rd_psnr_y")  # scores that do not reward sharpening


def verdict(table: pd.DataFrame) -> list[str]:
    """One paragraph per (video, scale) from the rate-distortion rows: which row needs the fewest bits for the same
    quality against the codec alone, and whether the best per-video (overfitted) method earns its bytes against
    the general model, on VMAF-NEG and PSNR-Y, every byte of the package counted."""
    paragraphs = []
    for (video, scale), methods in curves(table).items():
        anchor = methods.get(ANCHOR)
        if anchor is None:
            continue
        codec = ", ".join(dict.fromkeys(anchor["encoder"].dropna())) or "the codec"

        def against(reference, points):
            return [bd_rate_of(reference, points, q)[0] for q in VERDICT_QUALITIES]

        scores = {m: against(anchor, p) for m, p in methods.items() if m != ANCHOR}
        ranked = sorted((m for m in scores if not np.isnan(scores[m][0])), key=lambda m: scores[m][0])
        if not ranked:
            paragraphs.append(f"{video} x{scale}: no method's curve overlaps {codec} alone enough in VMAF-NEG to "
                              "trust a BD-rate; no verdict.")
            continue
        best = ranked[0]
        text = [f"{video} x{scale}, against {codec} alone: at equal quality {_who(best, methods)} needs "
                f"{as_bits(scores[best])} (BD-rate VMAF-NEG / PSNR-Y, every byte counted; bicubic, the player alone: "
                f"{as_bits(scores.get('bicubic', [np.nan] * 2))})."]
        own = [m for m in ranked if m not in REFERENCE_METHODS]
        if own and "general" in methods:
            mine = own[0]
            versus = against(methods["general"], methods[mine])
            text.append(f"The best per-video method, {mine} ({as_bits(scores[mine])} than the codec), needs "
                        f"{as_bits(versus)} than {_who('general', methods)}: "
                        + ("its per-video models earn their bytes." if versus[0] < 0 else
                           "its per-video models cost more bytes than the quality they add."))
        paragraphs.append(" ".join(text))
    return paragraphs


def _who(method: str, methods: dict) -> str:
    base = ", ".join(b for b in dict.fromkeys(methods[method]["base"]) if b != NO_BASE)
    if method == "general":
        return "the general model" + (" resident at the client" if base else " sent with each package")
    return method if method != "bicubic" else "bicubic (the LR stream upscaled by the player)"


def as_bits(values) -> str:
    """BD-rates as words: '19.9 % / 15.0 % fewer bits', '5.0 % fewer / 3.0 % more bits', '29.8 % more bits / no
    trusted value' (NaN: no overlap, or one too thin to trust)."""
    words = {"fewer" if v < 0 else "more" for v in values if not np.isnan(v)}
    if len(words) == 1 and not any(np.isnan(v) for v in values):
        return " / ".join(f"{abs(v):.1f} %" for v in values) + f" {words.pop()} bits"
    return " / ".join("no trusted value" if np.isnan(v) else f"{abs(v):.1f} % {'fewer' if v < 0 else 'more'} bits"
                      for v in values)


def bd_section(table: pd.DataFrame, order=None) -> list:
    """The BD-rates of the methods in `table` (rd_table) against the codec alone, as comparison.md and the report
    show them, and the conventions of the rate-distortion measures; nothing without a lossy rate point."""
    bd = bd_table(table, order)
    if bd.empty:
        return []
    vmaf_model = ", ".join(sorted(set(table["vmaf_model"].dropna()))) or "-"
    return [Table(bd_shown(bd), "Rate-distortion: BD-rate against the codec alone"), Note(bd_note(bd, vmaf_model)),
            LEGEND]


def bd_shown(bd: pd.DataFrame) -> pd.DataFrame:
    """Rows = methods, one column per (kind, quality); where some package assumes a resident base, which one and
    the BD-rates with its bytes counted too."""
    bd = bd.reset_index(drop=True)
    with_base = resident(bd)
    kinds = {"": "BD-rate", "_stream_only": "stream only:", **({"_with_base": "with base:"} if with_base else {})}
    shown = pd.DataFrame({"video": bd["video"], "scale": [f"x{s}" for s in bd["scale"]], "method": bd["method"],
                          "points": [f"{p} vs {a}" for p, a in zip(bd["points"], bd["anchor_points"])]})
    if with_base:
        shown["base"] = bd["base"]
    for suffix, label in kinds.items():
        for quality in QUALITIES:
            values, reasons = bd[f"bd_rate_{quality}{suffix}"], bd[f"why_{quality}{suffix}"]
            shown[f"{label} {measure(quality).label} %"] = [bd_cell(v, why) for v, why in zip(values, reasons)]
    return shown


def bd_note(bd: pd.DataFrame, vmaf_model: str) -> str:
    note = (f"{describe('BD-rate')} VMAF: {vmaf_model}. 'points' = the method's rate points vs the anchor's; "
            "'unreliable': the value, after the colon, rests on too thin an overlap to trust.")
    if resident(bd):
        note += (" 'base': the model the packages assume installed with the player (package.base: resident), whose "
                 "bytes the rate leaves out; 'with base' adds them to every package, as for a client without it.")
    return note


def bd_cell(value: float, reason) -> str:
    return f"n/a ({reason})" if np.isnan(value) else f"{value:+.1f}"


def plot_curves(table: pd.DataFrame, path, order=None) -> None:
    """kbit/s (log) against PSNR-Y and against VMAF-NEG, one row of panels per (video, scale), one line per
    method; the HR codec in black, the LR stream with bicubic dashed grey."""
    groups = curves(table)
    fig, axes = plt.subplots(max(1, len(groups)), 2, figsize=(13, 4.8 * max(1, len(groups))), squeeze=False)
    for row, ((video, scale), methods) in zip(axes, groups.items()):
        names = [m for m in dict.fromkeys([ANCHOR, "bicubic", *(order or []), *methods]) if m in methods]
        for ax, quality in zip(row, QUALITIES):
            label = heading(quality)
            for method in names:
                points = methods[method]
                style = {ANCHOR: dict(color="black", linewidth=2.2), "bicubic": dict(color="grey", linestyle="--")}
                ax.plot(points["kbps_package"], points[quality], marker="o", markersize=4,
                        label="HR through the codec" if method == ANCHOR else method, **style.get(method, {}))
            ax.set_xscale("log")
            ax.set(title=f"{video} x{scale}: {label} against delivered rate", ylabel=label,
                   xlabel=f"{heading('kbps_package')}: every byte of the package (HR: its stream)")
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path, dpi=110)
