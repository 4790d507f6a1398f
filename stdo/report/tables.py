"""The comparison and summary tables of the aggregate stage, and a summary of the Snakemake benchmark
files (seconds, peak RSS), as small self-contained HTML pages for Snakemake's HTML report (it shows HTML
inline; Markdown and CSV only as downloads). Every page appears under its final name only once complete
(`stdo.io.atomic_path`)."""
from __future__ import annotations

import html
import logging
import re
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..io import atomic_path

log = logging.getLogger(__name__)

STYLE = """
body { font-family: sans-serif; font-size: 14px; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; }
th, td { border: 1px solid #bbb; padding: 3px 8px; }
th { background: #eef; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.note { color: #555; max-width: 60em; }
"""
NUMBER = re.compile(r"^-?[\d.,]+( ?[a-zA-Z%]+)?$")


def inline(text: str) -> str:
    """Escape a line of Markdown and keep its **bold** and `code`."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def html_table(header, rows) -> str:
    head = "".join(f"<th>{inline(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if NUMBER.match(str(v)) else ""}>{inline(str(v))}</td>'
                         for v in row) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def markdown_to_html(text: str) -> str:
    """The Markdown the aggregate stage writes (pipe tables, bold lines, '- ' lists, paragraphs)."""
    parts, block = [], []

    def flush():
        if not block:
            return
        if all(line.startswith("|") for line in block):
            cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in block]
            body = [r for r in cells[1:] if not all(set(c) <= set("-: ") for c in r)]
            parts.append(html_table(cells[0], body))
        else:
            items = []
            for line in block:
                if line.startswith("- "):
                    items.append(f"<li>{inline(line[2:])}</li>")
                    continue
                if items:
                    parts.append("<ul>" + "".join(items) + "</ul>")
                    items = []
                parts.append(f"<p>{inline(line)}</p>")
            if items:
                parts.append("<ul>" + "".join(items) + "</ul>")
        block.clear()

    for line in text.splitlines():
        if line.strip():
            block.append(line.rstrip())
        else:
            flush()
    flush()
    return "\n".join(parts)


def html_page(title: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")


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


def number(value, digits: int) -> str:
    return "-" if pd.isna(value) else f"{value:.{digits}f}"


def tables(comparison_path, summary_path, benchmark_paths, out_comparison, out_benchmarks,
           out_benchmarks_csv) -> pd.DataFrame:
    """The comparison and summary tables as one HTML page; the benchmarks as an HTML page and a CSV."""
    body = markdown_to_html(Path(comparison_path).read_text())
    body += "\n<h2>Every (video, scale, method)</h2>\n" + markdown_to_html(Path(summary_path).read_text())
    with atomic_path(out_comparison) as tmp:
        tmp.write_text(html_page("Comparison of the methods", body))

    jobs = read_benchmarks(benchmark_paths)
    with atomic_path(out_benchmarks_csv) as tmp:
        jobs.to_csv(tmp, index=False, float_format="%.2f")
    per_stage = benchmark_summary(jobs)
    note = ("<p class=note>From Snakemake's <code>benchmark:</code> files, one per job "
            "(<code>results/benchmarks/&lt;stage&gt;/&lt;job&gt;.tsv</code>): <code>s</code> is wall-clock seconds, "
            "<code>max_rss</code> the peak resident memory in MB. The stage is the folder: <code>train</code> holds "
            "train and train_joint jobs, <code>evaluate</code> the methods and the reference rows. Jobs that did not "
            "re-run keep the numbers of their last run.</p>")
    stage_rows = [[r.stage, r.jobs, number(r.total_s, 1), number(r.max_s, 1), number(r.max_rss_mb, 0)]
                  for r in per_stage.itertuples()]
    stage_rows.append(["all", len(jobs), number(jobs["s"].sum(), 1), number(jobs["s"].max(), 1),
                       number(jobs["max_rss_mb"].max(), 0)])
    job_rows = [[r.stage, r.job, number(r.s, 1), number(r.max_rss_mb, 0)] for r in jobs.itertuples()]
    body = (note + "<h2>Per stage</h2>"
            + html_table(["stage", "jobs", "total s", "max s", "max RSS MB"], stage_rows)
            + "<h2>Per job</h2>" + html_table(["stage", "job", "s", "max RSS MB"], job_rows))
    with atomic_path(out_benchmarks) as tmp:
        tmp.write_text(html_page("Benchmarks: seconds and peak memory per job", body))
    log.info("tables written: %d benchmark files, %.1f s in all", len(jobs), jobs["s"].sum())
    return jobs
