"""The summary tables every report is made of, from the evaluations' metrics: one tidy row per (video, scale,
method, rate point), the papers' comparison table (lossless LR, their setting) with the verdict and the BD-rates
against the codec alone (`stdo.rd`), and the clips pooled per category. The aggregate stage writes them; the
HTML report (`stdo.report.tables`) renders them."""
from __future__ import annotations

import pandas as pd

from .. import hull, rd
from ..io import load_json
from ..learning import RISE_DB
from ..measures import heading, legend, measure
from .document import Note, Table, number

COLUMNS = ["video", "category", "scale", "method", "rate", "train_rate", "split", "mode", "k", "models", "fallbacks",
           "deltas", "arch", "init", "budget", "steps", "epochs", "params_per_model", "total_params", "map_bits",
           "map_bytes", "model_bytes", "models_and_map_bytes", "stream_bytes", "package_bytes", "base", "base_bytes",
           "package_bytes_with_base", "kbps_package", "kbps_package_with_base", "psnr_stdo_patch",
           "psnr_frame_rgb", "psnr_frame_y", "psnr_cafm", "ssim", "psnr_patch_mean", "rd_psnr_rgb", "rd_psnr_y",
           "rd_ssim", "vmaf", "vmaf_neg", "vmaf_model", "pad", "train_seconds", "curve_rise_db", "converged", "frames",
           "eval_frames", "patches", "sr_sha256"]
SHOWN = ["video", "scale", "method", "rate", "k", "total_params", "models_and_map_bytes", "kbps_package", "steps",
         "psnr_stdo_patch", "psnr_frame_y", "ssim", "rd_psnr_y", "vmaf_neg", "vmaf", "train_seconds", "converged"]
# The legend of summary.md: the conventions of the measures it shows (stdo.measures), then what its other columns say.
LEGEND = "Conventions of the measures (stdo.measures; docs/conventions.md has every column):"
COLUMN_NOTES = (
    "steps: the method's optimizer-step budget (budget 'total': shared among its chunk models by chunk size; "
    "'per_chunk': each chunk model gets all of it); epochs, where the budget was given so: passes over the video's "
    "LR patch tiles, steps = epochs x patches / batch.",
    f"converged: 'not converged' where one of the method's models still gained more than {RISE_DB} dB over the last "
    "doubling of its steps (curve_rise_db; results/curves.csv); empty where no curve was recorded.",
    "fallbacks: chunks whose trained model lost to the general model or bicubic on the chunk's patches and that "
    "ship that instead (config select; empty where select is off or for the reference rows).")
# Said, with the columns, only where some package assumes a resident base (package.base: resident).
RESIDENT_SHOWN = ["base", "kbps_package_with_base"]
RESIDENT_NOTE = ("base: the model the package assumes installed with the player once (package.base: resident), or "
                 "none; its bytes are in no per-video count (models_and_map_bytes, package_bytes, kbps_package). "
                 "deltas: models sent as their difference to the base.")


# Pooled per category: the mean over clips of each per-clip measure (and the clips' frames summed).
POOLED = ["psnr_stdo_patch", "psnr_frame_rgb", "psnr_frame_y", "psnr_cafm", "ssim", "rd_psnr_rgb", "rd_psnr_y",
          "rd_ssim", "vmaf", "kbps_package", "models_and_map_bytes", "package_bytes", "kbps_package_with_base",
          "package_bytes_with_base", "train_seconds"]
CATEGORY_KEYS = ["category", "scale", "method", "rate"]
CATEGORY_COLUMNS = [*CATEGORY_KEYS, "clips", "frames", *POOLED, "videos"]
CATEGORY_SHOWN = [*CATEGORY_KEYS, "clips", "frames", "psnr_stdo_patch", "psnr_frame_y", "ssim", "rd_psnr_y", "vmaf",
                  "kbps_package", "models_and_map_bytes"]
CATEGORY_LEGEND = Note("""\
Clips pooled per category (a category is the clip's folder under videos_from.folder, or the category its config entry
gives): one row per category, scale, method and rate point; clips = how many clips it pools, frames = their frames.
Every measure is the unweighted mean over the clips of the per-clip value in summary.csv, each clip counting once
whatever its length (clip-weighted, not frame-weighted): a pooled PSNR is the mean of the clips' PSNRs, each in its own
convention (below), not the PSNR of MSE pooled over clips. This is how video SR benchmarks average a dataset (Vid4,
REDS4: the mean over clips of each clip's PSNR); the VSD4K papers (STDO, CaFM) table each clip on its own
(summary.csv). kbps_package and models_and_map_bytes are means over the clips too. '-': not measured for some clip
of the category (e.g. the papers' patch PSNR off the training rate point). The conventions of the clips' measures:""",
                       legend(CATEGORY_SHOWN))


def summarize(metric_paths, categories=None) -> pd.DataFrame:
    """Every metrics file a row; `category` from `categories` (video -> category, the workflow's config), else
    the file's own, else the video's name."""
    rows = rd.fill_base(pd.DataFrame([load_json(p) for p in metric_paths]).reindex(columns=COLUMNS))
    categories = categories or {}
    rows["category"] = [categories.get(video, video if pd.isna(own) else own)
                        for video, own in zip(rows["video"], rows["category"])]
    return rows


def _clip_mean(values: pd.Series) -> float:
    """The mean over clips, or NaN when any clip has no value (never a mean over a silent subset)."""
    return float(values.mean()) if values.notna().all() else float("nan")


def pool_categories(table: pd.DataFrame) -> pd.DataFrame:
    """The clips of each (category, scale, method, rate) pooled: clip-weighted means (CATEGORY_LEGEND)."""
    if table.empty:
        return pd.DataFrame(columns=CATEGORY_COLUMNS)
    records = []
    for key, rows in table.groupby(CATEGORY_KEYS, sort=False):
        record = dict(zip(CATEGORY_KEYS, key))
        record.update(clips=rows["video"].nunique(), frames=rows["frames"].sum(min_count=len(rows)),
                      videos=" ".join(dict.fromkeys(rows["video"])))
        record.update({column: _clip_mean(rows[column]) for column in POOLED})
        records.append(record)
    return pd.DataFrame(records, columns=CATEGORY_COLUMNS)


def cell(column: str, value) -> str:
    if column in ("ssim", "rd_ssim"):
        return number(value, 4)
    if column.startswith(("psnr", "rd_psnr", "kbps", "vmaf")):
        return number(value, 2)
    if isinstance(value, float) or pd.isna(value):
        return number(value, 0)
    return str(value)


def shown(table: pd.DataFrame, columns) -> pd.DataFrame:
    """`columns` of `table` as the tables show them (`cell`)."""
    return pd.DataFrame({column: [cell(column, value) for value in table[column]] for column in columns})


def summary(table: pd.DataFrame) -> list:
    """summary.md: every (video, scale, method, rate point), and the conventions of its measures."""
    columns, notes = (SHOWN + RESIDENT_SHOWN, (*COLUMN_NOTES, RESIDENT_NOTE)) if rd.resident(table) else \
        (SHOWN, COLUMN_NOTES)
    return [Table(shown(table, columns)), Note(LEGEND, (*legend(columns), *notes))]


# comparison.md: one table per measure (bytes shown as KB)
COMPARED = ("psnr_stdo_patch", "psnr_frame_y", "models_and_map_bytes")


def title(column: str) -> str:
    """A table of one measure: its heading (bytes as KB) and convention."""
    return f"{heading(column, 'KB' if column.endswith('bytes') else None)}: {measure(column).convention}"


def comparison(table: pd.DataFrame, rd_rows: pd.DataFrame) -> list:
    """comparison.md: the STDO README's layout on lossless LR (the papers' setting), rows = methods, columns =
    scale per video, one table per measure; then the BD-rates against the codec alone (`rd.bd_section`)."""
    lossless = table[table["rate"] == rd.LOSSLESS]
    order = method_order(lossless)
    blocks = [Table(_measure(lossless, value, order), title(value)) for value in COMPARED]
    if rd.resident(lossless):
        blocks.append(_bases(lossless, order))
    said = [*rd.verdict(rd_rows), *hull.verdict(rd_rows)]
    verdict = [Note("**Verdict.** " + " ".join(said))] if said else []
    return [*verdict, *blocks, _budget_note(lossless), *rd.bd_section(rd_rows, method_order(table)),
            *viewer_wait(rd_rows, method_order(table))]


# what a viewer waits (segmented packages only): rd.csv's columns as comparison.md shows them
WAIT = {"kbps_package": ("kbit/s", "{:,.0f}"), "startup_bytes": ("bytes before the first frame", "{:,.0f}"),
        "startup_s_1mbps": ("at 1 Mbit/s (s)", "{:.2f}"), "startup_s_3mbps": ("at 3 Mbit/s (s)", "{:.2f}"),
        "startup_s_10mbps": ("at 10 Mbit/s (s)", "{:.2f}"),
        "seek_middle_bytes": ("bytes to seek to the middle", "{:,.0f}")}


def viewer_wait(rd_rows: pd.DataFrame, order: list) -> list:
    """The streamed packages' wait per method and rate point: where STDO's chunks (every model and the map part
    before the first frame) pay or lose against time chunks and one model. Nothing where no package was segmented."""
    if "startup_bytes" not in rd_rows or rd_rows["startup_bytes"].isna().all():
        return []
    rows = rd_rows.dropna(subset=["startup_bytes"])
    rank = {"rate": list(rows.groupby("rate")["kbps_stream"].mean().sort_values().index), "method": order}
    rows = rows.sort_values(["video", "scale", "rate", "method"], kind="stable",
                            key=lambda c: c.map({v: i for i, v in enumerate(rank[c.name])}) if c.name in rank else c)
    shown = pd.DataFrame({"video": rows["video"], "scale": [f"x{s}" for s in rows["scale"]],
                          "method": rows["method"], "rate": rows["rate"]})
    for column, (label, form) in WAIT.items():
        shown[label] = [form.format(v) for v in rows[column]]
    title = "Streamed: what a viewer waits (the DASH folders, <video>/x<scale>/<method>/<rate>/stream/)"
    return [Table(shown.reset_index(drop=True), title), Note("Conventions:", legend(WAIT))]


def method_order(table: pd.DataFrame) -> list:
    """The methods in the order of their first row."""
    return list(dict.fromkeys(table["method"]))


def _budget_note(table: pd.DataFrame) -> Note:
    budget = table.dropna(subset=["steps"]).drop_duplicates("method")
    budgets = ", ".join(f"{r.method} {r.steps:.0f}" + (f" ({r.epochs:g} epochs)" if pd.notna(r.epochs) else "")
                        for r in budget.itertuples())
    rule = "shared among a method's chunk models by chunk size" if set(budget["budget"].dropna()) <= {"total"} \
        else "each chunk model gets the full budget (budget: per_chunk)"
    return Note(f"Lossless LR (the papers' setting). Training budget (optimizer steps): {budgets}; {rule}.")


def _measure(table: pd.DataFrame, value: str, order: list) -> pd.DataFrame:
    """One measure as shown: PSNR to 0.01 dB, bytes as KB to 0.1."""
    wide = _wide(table, value, order)
    wide, digits = (wide / 1000, 1) if value.endswith("bytes") else (wide, 2)
    return wide.map(lambda v: number(v, digits)).reset_index()


def _wide(table: pd.DataFrame, value: str, order: list) -> pd.DataFrame:
    """One measure with methods as rows and '<video> x<scale>' as columns."""
    wide = table.pivot_table(index="method", columns=["video", "scale"], values=value, aggfunc="first").reindex(order)
    wide.columns = [f"{video} x{scale}" for video, scale in wide.columns]
    return wide


def _bases(table: pd.DataFrame, order: list) -> Table:
    """Which base each row's packages assume resident, and its KB, which the models' KB leave out."""
    labels = [base if base == rd.NO_BASE else f"{base}, {n / 1000:.1f} KB"
              for base, n in zip(table["base"], table["base_bytes"])]
    wide = _wide(table.assign(base=labels), "base", order).fillna("-")
    return Table(wide.reset_index(), "Resident base: the model each package assumes installed with the player once "
                                     "(package.base); its KB are not in the models' KB above")


def measured(metric_paths, hr_metric_paths, categories=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary table (`summarize`) and the rate-distortion rows, the HR codec's too: what every table is made of."""
    table = summarize(metric_paths, categories)
    return table, rd.rd_table([load_json(p) for p in [*metric_paths, *hr_metric_paths]])
