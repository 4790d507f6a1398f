"""The report's tables as small self-contained HTML pages (Snakemake's report shows HTML inline;
Markdown and CSV only as downloads): the aggregate stage's comparison and summary tables, made from the
same DataFrames as its Markdown (`stdo.aggregate`), and a summary of the Snakemake benchmark files (seconds,
peak RSS). Every file appears under its final name only once complete (`stdo.io.atomic_path`)."""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..io import atomic_path, save_text
from . import summary
from .document import Heading, Note, Table, html_page, number

log = logging.getLogger(__name__)

BENCHMARK_NOTE = Note(
    "From Snakemake's 'benchmark:' files, one per job (results/benchmarks/<stage>/<job>.tsv): 's' is wall-clock "
    "seconds, 'max_rss' the peak resident memory in MB. The stage is the folder: 'train' holds train and train_joint "
    "jobs, 'evaluate' the methods and the reference rows. Jobs that did not re-run keep the numbers of their last run.")
# Column -> (heading, decimals) of the benchmark tables: seconds to 0.1 s, memory to the MB.
BENCHMARK_NUMBERS = {"s": ("s", 1), "total_s": ("total s", 1), "max_s": ("max s", 1),
                     "max_rss_mb": ("max RSS MB", 0)}


def read_benchmarks(paths) -> pd.DataFrame:
    """One row per benchmark TSV (results/benchmarks/<stage>/<job>.tsv): wall seconds and peak RSS
    (MB); a file with several repeats gives the mean seconds and the largest RSS. Snakemake writes an RSS
    of 0 for a job that ended before its first memory sample: that is "not measured" (NaN), shown "-"."""
    rows = []
    for path in paths:
        path = Path(path)
        bench = pd.read_csv(path, sep="\t")
        missing = {"s", "max_rss"} - set(bench.columns)
        if missing or bench.empty:
            raise InputError(f"{path}: not a Snakemake benchmark file (no {', '.join(sorted(missing)) or 'rows'})")
        rows.append({"stage": path.parent.name, "job": path.stem,
                     "s": pd.to_numeric(bench["s"], errors="coerce").mean(),
                     "max_rss_mb": pd.to_numeric(bench["max_rss"], errors="coerce").max()})
        if not rows[-1]["max_rss_mb"] > 0:
            rows[-1]["max_rss_mb"] = float("nan")
    return pd.DataFrame(rows, columns=["stage", "job", "s", "max_rss_mb"])


def benchmark_summary(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per stage: jobs, total and largest wall seconds, largest peak RSS."""
    grouped = jobs.groupby("stage", sort=False)
    return pd.DataFrame({"jobs": grouped.size(), "total_s": grouped["s"].sum(), "max_s": grouped["s"].max(),
                         "max_rss_mb": grouped["max_rss_mb"].max()}).reset_index()


def benchmarks_shown(table: pd.DataFrame) -> pd.DataFrame:
    shown = table.astype(str)
    for column, (_, digits) in BENCHMARK_NUMBERS.items():
        if column in table:
            shown[column] = [number(value, digits) for value in table[column]]
    return shown.rename(columns={column: heading for column, (heading, _) in BENCHMARK_NUMBERS.items()})


def benchmark_page(jobs: pd.DataFrame) -> str:
    per_stage = pd.concat([benchmark_summary(jobs), benchmark_summary(jobs.assign(stage="all"))], ignore_index=True)
    blocks = [BENCHMARK_NOTE, Table(benchmarks_shown(per_stage), "Per stage"), Table(benchmarks_shown(jobs), "Per job")]
    return html_page("Benchmarks: seconds and peak memory per job", blocks)


def comparison_page(metric_paths, hr_metric_paths) -> str:
    """comparison.md and summary.md of the aggregate stage, made again from the same metrics files."""
    table, rd_rows = summary.measured(metric_paths, hr_metric_paths)
    blocks = [*summary.comparison(table, rd_rows), Heading("Every (video, scale, method)"), *summary.summary(table)]
    return html_page("Comparison of the methods", blocks)


def tables(metric_paths, benchmark_paths, out_comparison, out_benchmarks, out_benchmarks_csv, *,
           hr_metric_paths=()) -> pd.DataFrame:
    """The comparison and summary tables as one HTML page; the benchmarks as an HTML page and a CSV."""
    save_text(comparison_page(metric_paths, hr_metric_paths), out_comparison)
    jobs = read_benchmarks(benchmark_paths)
    with atomic_path(out_benchmarks_csv) as tmp:
        jobs.to_csv(tmp, index=False, float_format="%.2f")
    save_text(benchmark_page(jobs), out_benchmarks)
    log.info("tables written: %d benchmark files, %.1f s in all", len(jobs), jobs["s"].sum())
    return jobs
