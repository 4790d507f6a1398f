"""Every measure the tables report, with its convention, written once: its columns in results/summary.csv and
rd.csv (or the Markdown tables that show it), unit, which way is better, and how it is measured. The tables'
legends (summary.md, comparison.md, crossover.md, hull.md), the report's captions (workflow/report/*.rst) and
docs/conventions.md render it from here (`legend`), so that a convention cannot be stated two ways.

A convention is the measure's own sentence after the shared ones of its families (`FAMILIES`: what every PSNR,
every kbit/s, every score of the papers or of the codec world has in common); `legend` says each shared one once."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .bdrate import MIN_INSIDE, MIN_SHARE
from .learning import PROBE_PATCHES, RISE_DB
from .metrics import PSNR_CAP_DB, cafm_shave, stdo_shave

# The libvmaf model of each VMAF column (stdo.quality scores with them, in one pass)
VMAF_MODELS = {"vmaf": "vmaf_v0.6.1", "vmaf_neg": "vmaf_v0.6.1neg"}
SUMMARY, RD = "summary.csv", "rd.csv"


@dataclass(frozen=True)
class Measure:
    label: str  # short: axis labels, table headings
    unit: str  # '' for a score without one
    better: str  # 'higher', 'lower', or '' (a size or count: neither)
    convention: str  # how it is measured, after its families' shared conventions
    columns: tuple[str, ...]  # its columns; none for a measure only the Markdown tables show (BD-rate)
    tables: tuple[str, ...]  # the results files that hold it
    families: tuple[str, ...] = ()
    group: str = ""


FAMILIES = {
    "psnr": f"Every PSNR is in dB for 8-bit output, 10 log10(255^2 / MSE), capped at {PSNR_CAP_DB:g} dB: what a "
            "perfect match (MSE 0) scores.",
    "papers": "The papers' scores (STDO, CaFM, BasicSR) measure how well the models overfit the frames they were "
              "trained on: every SR frame as the client plays the package (its stored weights, the patches of the "
              "grid), scored only where the package carries the LR frames its models were trained on (the lossless "
              "rate point unless codec.train_on says otherwise; '-' elsewhere).",
    "codec": "The codec world's scores: every frame of the played package (hr_codec: of its decoded stream) against "
             "the original HR frames, whole frames, nothing shaved.",
    "libvmaf": "SSIM and VMAF come from libvmaf (in the FFmpeg of imageio-ffmpeg) on yuv420p frames made by FFmpeg's "
               "default rgb24 conversion (BT.601, limited range), and are means over the frames it scores: every "
               "frame, or frames 0, n, 2n ... only under vmaf_subsample n (vmaf_model then says '1 frame in n').",
    "bytes": "Bytes are measured on the files as delivered (the package's, a resident base's), not computed from "
             "parameter counts.",
    "kbps": "kbit/s = 8 x bytes / (frames / fps) / 1000 over the whole clip, the bytes measured on the files.",
}

Y = "Y (BT.601 studio-range luma, 16 + (65.481 R + 128.553 G + 24.966 B) / 255, in floating point from RGB)"
PAPERS, CODEC, SIZES, TRAINING, STREAMING, COMPARISONS = (
    "Quality: the papers' conventions", "Quality: the codec world's conventions", "Rates and bytes",
    "Models and training", "Streaming a segmented package", "Comparisons of curves")


def _whole_frames(channel: str) -> str:
    return (f"whole frames stitched from the SR patches (seams included), the evaluation frames only (every "
            f"eval_every-th), {channel}, shave = scale px at each frame border; the PSNR of the mean MSE over those "
            "frames.")


def _every_frame(channel: str) -> str:
    return f"{channel}; the PSNR of the mean over frames of the per-frame MSEs, every frame (FFmpeg psnr's 'average')."


def _kbps(label, convention, columns, tables=(SUMMARY, RD)) -> Measure:
    return Measure(label, "kbit/s", "lower", convention, columns, tables, ("kbps",), SIZES)


def _size(label, convention, column, tables=(SUMMARY,), group=SIZES) -> Measure:
    return Measure(label, "bytes", "lower", convention, (column,), tables, ("bytes",), group)


MEASURES = {m.columns[0] if m.columns else m.label: m for m in (
    Measure("PSNR, STDO patch convention", "dB", "higher",
            f"RGB, every patch of the grid scored on its own, scale+{stdo_shave(0)} px shaved from each patch "
            "border; the PSNR of the mean of the chunks' MSEs, -10 log10(mean of chunk MSE) (STDO's), over all "
            "patches of all frames.", ("psnr_stdo_patch",), (SUMMARY,), ("papers", "psnr"), PAPERS),
    Measure("PSNR-RGB, evaluation frames", "dB", "higher", _whole_frames("RGB"), ("psnr_frame_rgb",), (SUMMARY,),
            ("papers", "psnr"), PAPERS),
    Measure("PSNR-Y, evaluation frames", "dB", "higher", _whole_frames(f"{Y}, as BasicSR"), ("psnr_frame_y",),
            (SUMMARY,), ("papers", "psnr"), PAPERS),
    Measure("PSNR, CaFM convention", "dB", "higher",
            f"whole RGB frames, the evaluation frames only, scale+{cafm_shave(0)} px shaved at each frame border; "
            "the mean of the per-frame PSNRs (CaFM's).", ("psnr_cafm",), (SUMMARY,), ("papers", "psnr"), PAPERS),
    Measure("SSIM, evaluation frames", "", "higher",
            "Y (BT.601 studio range), shave = scale, Gaussian window of sigma 1.5 truncated at 11x11 (Wang et al. "
            "2004, K1 = 0.01, K2 = 0.03), the mean over the evaluation frames.", ("ssim",), (SUMMARY,), ("papers",),
            PAPERS),
    Measure("mean patch PSNR", "dB", "higher",
            f"the mean of the per-patch PSNRs (RGB, scale+{stdo_shave(0)} shave, all patches of all frames): "
            "averaging dB instead of errors, which can move a result by whole dB.", ("psnr_patch_mean",), (SUMMARY,),
            ("papers", "psnr"), PAPERS),
    Measure("PSNR-RGB", "dB", "higher", _every_frame("RGB"), ("rd_psnr_rgb",), (SUMMARY, RD), ("codec", "psnr"),
            CODEC),
    Measure("PSNR-Y", "dB", "higher", _every_frame(Y), ("rd_psnr_y",), (SUMMARY, RD), ("codec", "psnr"), CODEC),
    Measure("SSIM", "", "higher",
            "libvmaf's float_ssim on the Y plane (11x11 Gaussian window, sigma 1.5, the images first decimated by "
            "max(1, round(min(H, W) / 256)) as in Wang's reference code).", ("rd_ssim",), (SUMMARY, RD),
            ("codec", "libvmaf"), CODEC),
    Measure("VMAF", "", "higher", f"libvmaf's model {VMAF_MODELS['vmaf']} (named in vmaf_model).", ("vmaf",),
            (SUMMARY, RD), ("codec", "libvmaf"), CODEC),
    Measure("VMAF-NEG", "", "higher",
            f"libvmaf's {VMAF_MODELS['vmaf_neg']}, VMAF's 'no enhancement gain' model, in the same pass: it does not "
            "reward sharpening, so it is the score enhancement such as SR is judged by.", ("vmaf_neg",),
            (SUMMARY, RD), ("codec", "libvmaf"), CODEC),
    _kbps("kbit/s delivered",
          "every file of the package: the LR bitstream + the model files as stored (ONNX; fp16 weights unless "
          "package.weights or package.ship say int8 or deltas; zlib-compressed where package.compression says) + "
          "the chunk map + the manifest; a resident base is not counted (kbps_package_with_base adds it); "
          "hr_codec: its stream.", ("kbps_package",)),
    _kbps("kbit/s with the base",
          "as kbps_package, plus the bytes of the resident base the package assumes (package.base: resident), as "
          "for a client without it; equal to kbps_package where there is none.", ("kbps_package_with_base",)),
    _kbps("kbit/s of the LR stream", "the LR bitstream alone (hr_codec: its stream), as if the models cost nothing: "
          "the limit of a long video, or of models the client already has.", ("kbps_stream",), (RD,)),
    _kbps("kbit/s of models and map", "the model files and the chunk map only (the papers' measure).",
          ("kbps_models_and_map",), (RD,)),
    _size("stream bytes", "the LR bitstream's file.", "stream_bytes", tables=(SUMMARY, RD)),
    _size("model bytes", "the package's model files as stored (a model the resident base stands for is not one).",
          "model_bytes"),
    _size("map bytes", "the zlib-compressed patch-to-chunk map (content-routed splits; 0 otherwise).", "map_bytes"),
    _size("models + chunk map", "model_bytes + map_bytes: what the client downloads besides the LR video (the papers' "
          "size; comparison.md shows it in KB of 1000 bytes).", "models_and_map_bytes", tables=(SUMMARY, RD)),
    _size("package bytes", "every file of the package: the LR bitstream + the models + the chunk map + the manifest; "
          "a resident base not counted.", "package_bytes", tables=(SUMMARY, RD)),
    _size("base bytes", "the resident base's model file, installed with the player once (0: none).", "base_bytes",
          tables=(SUMMARY, RD)),
    _size("package bytes with the base", "package_bytes + base_bytes.", "package_bytes_with_base",
          tables=(SUMMARY, RD)),
    Measure("parameters", "", "", "the parameters of every model of the package, summed (CaFM: the backbone once "
            "and every chunk's modules).", ("total_params",), (SUMMARY,), (), TRAINING),
    Measure("parameters per model", "", "", "the parameters the client runs for one patch (CaFM: the backbone and "
            "one chunk's modules).", ("params_per_model",), (SUMMARY,), (), TRAINING),
    Measure("chunk map bits", "bits", "lower", "the chunk map before compression: frames x patches per frame x "
            "ceil(log2 k) bits (content-routed splits; 0 otherwise).", ("map_bits",), (SUMMARY,), (), TRAINING),
    Measure("training seconds", "s", "lower", "wall-clock seconds of training the method's models, summed from "
            "their sidecars (the learning curve's probing left out).", ("train_seconds",), (SUMMARY,), (), TRAINING),
    Measure("rise over the last doubling", "dB", "",
            f"the largest gain of the method's models over the last doubling of their steps: PSNR under the STDO "
            f"convention (fp32) on a fixed subset of at most {PROBE_PATCHES} of each model's own training patches "
            f"(stdo.learning); more than {RISE_DB} dB marks the method 'not converged'.", ("curve_rise_db",),
            (SUMMARY,), (), TRAINING),
    _size("bytes before the first frame", "what a viewer fetches before the first frame plays from a segmented "
          "package: the manifest, the segment index, the init segment, the first segment, its map part and the "
          "models it needs (a resident base is installed with the player).", "startup_bytes", (RD,), STREAMING),
    _size("bytes to seek to the middle", "the same, seeking to the middle of the video from nothing.",
          "seek_middle_bytes", (RD,), STREAMING),
    Measure("startup delay", "s", "lower", "the bytes before the first frame over a link of 1, 3 or 10 Mbit/s "
            "(transfer time only, no round trips).", ("startup_s_1mbps", "startup_s_3mbps", "startup_s_10mbps"),
            (RD,), (), STREAMING),
    Measure("whole package download", "s", "lower", "every byte of the package over a 3 Mbit/s link: what a "
            "client that downloads it whole waits.", ("whole_package_s_3mbps",), (RD,), (), STREAMING),
    Measure("BD-rate", "%", "lower",
            "Bjontegaard delta rate (VCEG-M33) of a curve against an anchor (comparison.md: hr_codec, the HR video "
            "through the same encoder; hull.md: one ladder against another): log10 of the rate fitted against the "
            "quality by a piecewise cubic Hermite interpolant (PCHIP, as the JCT-VC and JVET spreadsheets) and "
            "integrated over the quality range both curves share, never extrapolated; on PSNR-Y, VMAF-NEG and VMAF, "
            "the rate kbps_package ('stream only': kbps_stream). Negative = fewer bits than the anchor for the same "
            "quality. Unreliable, so n/a, where the curves share too little quality range to trust it: less than "
            f"{MIN_SHARE:.0%} of either curve's range, or fewer than {MIN_INSIDE} points of either inside it.",
            (), ("comparison.md", "hull.md"), (), COMPARISONS),
)}

# The columns of summary.csv and rd.csv that are no measure: what a row is (keys, settings, counts, labels)
DESCRIPTIVE = frozenset({
    "video", "category", "scale", "method", "rate", "train_rate", "split", "mode", "k", "models", "fallbacks",
    "deltas", "arch", "init", "budget", "steps", "epochs", "base", "vmaf_model", "pad", "converged", "frames",
    "eval_frames", "patches", "sr_sha256", "encoder", "stream", "fps"})
COLUMNS = {column: key for key, m in MEASURES.items() for column in m.columns}


def measure(column: str) -> Measure:
    """The measure a column (or a key of MEASURES) holds."""
    return MEASURES[COLUMNS.get(column, column)]


def heading(column: str, unit: str | None = None) -> str:
    """'PSNR-Y (dB)', 'VMAF': an axis label or a table's heading (`unit`: where shown in another one)."""
    m = measure(column)
    unit = m.unit if unit is None else unit
    return f"{m.label} ({unit})" if unit else m.label


def describe(key: str, code: Callable[[str], str] = str) -> str:
    """One measure as a legend item: 'rd_psnr_y (dB, higher is better): Y (...); the PSNR of ...'."""
    m = measure(key)
    terms = ", ".join(t for t in (m.unit, f"{m.better} is better" if m.better else "") if t)
    names = " / ".join(map(code, m.columns)) if m.columns else m.label
    return f"{names} ({terms}): {m.convention}" if terms else f"{names}: {m.convention}"


def legend(keys: Iterable[str], code: Callable[[str], str] = str) -> tuple[str, ...]:
    """The conventions of the measures among `keys` (columns or MEASURES keys; the others are skipped): their
    families' shared ones once, then one item per measure, in the order given."""
    found = list(dict.fromkeys(COLUMNS.get(k, k) for k in keys if COLUMNS.get(k, k) in MEASURES))
    families = dict.fromkeys(f for key in found for f in MEASURES[key].families)
    return (*(FAMILIES[f] for f in families), *(describe(key, code) for key in found))


def known(column: str) -> bool:
    return column in COLUMNS or column in DESCRIPTIVE
