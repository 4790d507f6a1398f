"""`snakemake --report report.html` on the tiny workflow: one self-contained HTML file with the comparison
table, the figures of every (video, scale) and the benchmark table, rendered by a headless Chromium."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess

import cv2
import numpy as np
import pandas as pd
import pytest
from tiny import TINY, snakemake

from stdo.report import document, tables

FIGURES = ("psnr_per_frame.png", "chunk_map.png", "hardest_patch.png")
SHOWCASE = ("side_by_side.html", "side_by_side.mp4")
TABLES = ("comparison.html", "benchmarks.html")
METHODS = ["bicubic", "general", *TINY["methods"]]
CHROMIUM_LIMIT_S = 60
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-crash-reporter", "--window-size=1400,2000")


@pytest.fixture(scope="module")
def reported(tiny_run, tmp_path_factory):
    """The tiny workflow, run once, and its report (made in a copy: other tests read the run meanwhile)."""
    root = tmp_path_factory.mktemp("reported") / "run"
    shutil.copytree(tiny_run[0], root, symlinks=True)  # keeps the times and Snakemake's records
    html = root / "report.html"
    made = snakemake(root, "--report", str(html))
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    return root, html


def embedded(html_text: str, name: str):
    """The JSON a report embeds as `var <name> = ...;` in its <script id="<name>"> (id with - for _)."""
    script = name.replace("_", "-")
    match = re.search(rf'<script id="{script}">\s*var {name} = (.*?);\s*</script>', html_text, re.S)
    assert match, f"no {name} payload in the report"
    return json.loads(match.group(1))


def data_uri_bytes(uri: str) -> bytes:
    return base64.b64decode(uri.split("base64,", 1)[1])


def test_every_figure_and_table_is_written(reported):
    root, _ = reported
    out = root / "results" / "report"
    for name in FIGURES:
        image = cv2.imread(str(out / "tiny_x4" / name))
        assert image is not None and min(image.shape[:2]) > 200 and image.std() > 10, name
    page = (out / "comparison.html").read_text()
    assert page.count("<table ") == 5 and all(f">{m}</td>" in page for m in METHODS)  # 3 papers', BD, summary
    jobs = pd.read_csv(out / "benchmarks.csv")
    assert set(jobs.stage) == {"ingest", "encode_lr", "encode_hr", "general", "label", "cluster", "train", "package",
                               "evaluate", "report", "aggregate"}
    assert (jobs.s > 0).all() and (jobs.max_rss_mb.dropna() > 0).all()
    assert jobs[jobs.s > 5].max_rss_mb.notna().all()  # only a job over before the first sample has none
    # every job's benchmark but the one of the job writing this table (the shared general model's lives beside it)
    written = {p for p in (root / "results" / "benchmarks").rglob("*.tsv") if p.name != "tables.tsv"}
    written |= set((root / "resources" / "benchmarks").rglob("*.tsv"))
    assert len(jobs) == len(written)


def test_the_report_is_one_file_embedding_everything(reported):
    _, html = reported
    text = html.read_text()
    # nothing it needs is fetched: no script, style, image or frame from a URL
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*[\"']?(https?:)?//", text, re.I)
    results = embedded(text, "results")
    by_name = {entry["name"]: entry for entry in results.values()}
    assert set(FIGURES + TABLES + SHOWCASE + ("psnr_vs_size.png", "rd_curves.png", "comparison.md")) <= set(by_name)
    for name in FIGURES + ("psnr_vs_size.png", "rd_curves.png"):
        entry = by_name[name]
        assert entry["mime_type"] == "image/png" and entry["data_uri"].startswith("data:image/png")
        assert data_uri_bytes(entry["data_uri"]).startswith(b"\x89PNG\r\n\x1a\n") and entry["caption"]
    table = data_uri_bytes(by_name["comparison.html"]["data_uri"]).decode()
    assert "<table " in table and all(f">{m}</td>" in table for m in METHODS)
    assert "max RSS MB" in data_uri_bytes(by_name["benchmarks.html"]["data_uri"]).decode()
    showcase = data_uri_bytes(by_name["side_by_side.html"]["data_uri"]).decode()
    assert by_name["side_by_side.html"]["mime_type"] == "text/html" and "<video" in showcase
    assert data_uri_bytes(showcase.split("src='", 1)[1].split("'", 1)[0])[4:8] == b"ftyp"  # an MP4 inside
    categories = embedded(text, "categories")
    assert set(categories) == {"Comparison", "Figures", "Benchmarks"} and "tiny x4" in categories["Figures"]
    assert "psnr_stdo_patch" in embedded(text, "workflow_desc")  # the description names the conventions


def chromium(*args: str) -> str:
    """Run headless Chromium in its own process group; kill the whole group when it is done or too slow."""
    proc = subprocess.Popen(["chromium", *CHROMIUM_FLAGS, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=CHROMIUM_LIMIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish within {CHROMIUM_LIMIT_S} s: {args}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # helpers it may leave behind
        except ProcessLookupError:
            pass
    return out


def showing(html, result: str, view: str, category: str, out):
    """A copy of the report that opens `category` and shows the result whose path ends with `result`,
    as a click on it would (the report is a one-page app without addresses for its views)."""
    click = f"""<script>window.addEventListener("load", () => setTimeout(() => {{
      app.showCategory("{category}");
      setTimeout(() => {{
        const path = Object.keys(results).find((p) => p.endsWith("{result}"));
        app.setView({{content: "{view}", contentPath: results[path].data_uri, resultPath: path}});
      }}, 100);
    }}, 100));</script>"""
    head, end, tail = html.read_text().rpartition("</body>")
    out.write_text(head + click + end + tail)
    return out


def screenshot(page, tmp_path, name: str) -> np.ndarray:
    png = tmp_path / f"{name}.png"
    chromium(f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", f"--screenshot={png}",
             page.as_uri())
    image = cv2.imread(str(png))
    assert image is not None, f"chromium wrote no screenshot {png}"
    return image


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="chromium is not installed (apt-get install -y --no-install-recommends chromium)")
def test_chromium_renders_the_table_and_the_pictures(reported, tmp_path):
    _, html = reported
    landing = screenshot(html, tmp_path, "landing")
    assert landing.shape[:2] == (2000, 1400) and landing.std() > 20  # not blank: the menu, description, rule graph

    crops = showing(html, "/hardest_patch.png", "img", "Figures", tmp_path / "crops.html")
    dom = chromium(f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
                   crops.as_uri())
    assert re.search(r'<img src="data:image/png;[^"]*filename=hardest_patch\.png', dom)  # the picture is shown
    for item in ("chunk map", "hardest patch", "PSNR per frame"):
        assert item in dom  # the category lists the three figures
    shown = screenshot(crops, tmp_path, "crops")
    assert len(np.unique(shown.reshape(-1, 3), axis=0)) > 1000  # a photo, not just the page's flat colours

    table = screenshot(showing(html, "/comparison.html", "html", "Comparison", tmp_path / "table.html"),
                       tmp_path, "table")
    assert table.std() > 20 and not np.array_equal(table, shown)

    curves = showing(html, "/rd_curves.png", "img", "Comparison", tmp_path / "curves.html")
    dom = chromium(f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
                   curves.as_uri())
    assert re.search(r'<img src="data:image/png;[^"]*filename=rd_curves\.png', dom)  # the RD curves are shown


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="chromium is not installed (apt-get install -y --no-install-recommends chromium)")
def test_chromium_plays_the_side_by_side_video(reported, tmp_path):
    root, _ = reported
    page = (root / "results" / "report" / "tiny_x4" / "side_by_side.html").read_text()
    probe = """<script>const v = document.getElementById("showcase");
      v.addEventListener("loadeddata", () => document.body.dataset.video = v.videoWidth + "x" + v.videoHeight);
      v.addEventListener("error", () => document.body.dataset.error = String(v.error && v.error.code));</script>"""
    (tmp_path / "probe.html").write_text(page.replace("</body>", probe + "</body>"))
    dom = chromium(f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
                   (tmp_path / "probe.html").as_uri())
    assert 'data-video="256x206"' in dom, dom[-500:]  # four 64 px crops side by side, 160 px + two label lines


def test_one_table_is_written_as_markdown_and_as_html_with_the_same_cells():
    frame = pd.DataFrame({"method": ["stdo", "a<b"], "tiny x4": ["28.90", "-"], "BD-rate %": ["+3.4", "n/a (x)"]})
    blocks = [document.Table(frame, "PSNR dB"), document.Note("Legend:", ("`a` < b", "c"))]
    text = document.markdown(blocks)
    assert text.startswith("**PSNR dB**\n\n| method ")
    rows = [re.sub(" +", " ", line) for line in text.splitlines()]
    assert "| stdo | 28.90 | +3.4 |" in rows and "| a<b | - | n/a (x) |" in rows  # as given: no number re-read
    assert rows[3].startswith("|:-") and rows[3].count(":|") == 1  # numbers only right-aligned
    assert text.endswith("Legend:\n- `a` < b\n- c\n")
    page = document.html_page("T", blocks)
    assert "<p><strong>PSNR dB</strong></p>" in page and ">28.90</td>" in page and ">a&lt;b</td>" in page
    assert 'num" >-</td>' in page  # '-' (not measured) aligns as a number
    assert ">+3.4</td>" in page and 'num" >+3.4</td>' not in page  # its column holds text too: left-aligned
    assert "<p>Legend:</p><ul><li>`a` &lt; b</li><li>c</li></ul>" in page


def test_benchmarks_are_read_per_job_and_summed_per_stage(tmp_path):
    paths = []
    for stage, job, seconds, rss in (("train", "v_x4_stdo_chunk0", 10.0, 400.0),
                                     ("train", "v_x4_stdo_chunk1", 5.0, 450.0), ("label", "v_x4", 2.5, 300.0)):
        path = tmp_path / stage / f"{job}.tsv"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"s\th:m:s\tmax_rss\tmax_vms\n{seconds}\t0:00:{seconds:02.0f}\t{rss}\t900\n")
        paths.append(path)
    jobs = tables.read_benchmarks(paths)
    assert jobs.to_dict("list") == {"stage": ["train", "train", "label"], "job": [p.stem for p in paths],
                                    "s": [10.0, 5.0, 2.5], "max_rss_mb": [400.0, 450.0, 300.0]}
    summary = tables.benchmark_summary(jobs).set_index("stage")
    assert summary.loc["train"].tolist() == [2, 15.0, 10.0, 450.0] and summary.loc["label", "jobs"] == 1


def test_a_job_over_before_its_first_memory_sample_has_no_rss(tmp_path):
    path = tmp_path / "cluster" / "v_x4_stdo.tsv"
    path.parent.mkdir()
    path.write_text("s\th:m:s\tmax_rss\tmax_vms\n0.50\t0:00:00\t0.00\t0.13\n")  # as Snakemake writes it
    jobs = tables.read_benchmarks([path])
    assert jobs.s.tolist() == [0.5] and jobs.max_rss_mb.isna().all()
    assert tables.benchmark_summary(jobs).max_rss_mb.isna().all()
