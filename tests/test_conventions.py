"""The registry of measures (stdo.measures) is the one place a convention is written: docs/conventions.md and the
report's captions are what it generates (`python -m stdo.report.conventions`), every measure column of the tables
has an entry, and the legends render from it."""
from __future__ import annotations

import re

import pandas as pd
from jinja2 import Environment

from stdo import generated, measures, rd
from stdo.delivery.segments import LINKS_KBPS
from stdo.report import conventions
from stdo.report.summary import COLUMNS, summary


def test_the_committed_page_and_captions_are_what_the_registry_generates():
    differences = generated.stale(conventions.files())
    assert not differences, "\n".join(differences) + f"\nrun: {conventions.COMMAND}"


def test_every_caption_asks_for_measures_the_registry_has():
    asked = [(path.name, key) for path, text in ((p, p.read_text()) for p in conventions.CAPTIONS.glob("*.rst"))
             for m in conventions.REGION.finditer(text) for key in m["keys"].split()]
    assert len(asked) > 10 and {"workflow.rst", "rd_curves.rst"} <= {name for name, _ in asked}
    assert [a for a in asked if a[1] not in measures.COLUMNS and a[1] not in measures.MEASURES] == []


def test_a_caption_renders_its_conventions_and_no_markers():
    text = (conventions.CAPTIONS / "rd_curves.rst").read_text()
    shown = Environment(trim_blocks=True, lstrip_blocks=True).from_string(text).render()  # as Snakemake's report
    assert "{#" not in shown and "- ``rd_psnr_y`` (dB, higher is better): " in shown
    assert measures.FAMILIES["psnr"] in shown and measures.measure("vmaf_neg").convention in shown


def test_every_entry_is_complete_and_says_where_it_is():
    assert len(measures.COLUMNS) == sum(len(m.columns) for m in measures.MEASURES.values())  # no column twice
    for key, m in measures.MEASURES.items():
        assert m.label and m.group and m.better in ("higher", "lower", "") and m.convention.endswith("."), key
        assert set(m.families) <= set(measures.FAMILIES), key
        assert not re.search(r"[{}|`*]", m.convention), key  # plain text, safe in Markdown, RST and Jinja alike
        assert all((column in COLUMNS) == ("summary.csv" in m.tables) for column in m.columns), key
        assert all(column in rd.RD_COLUMNS for column in m.columns if "rd.csv" in m.tables and m.group !=
                   measures.STREAMING), key
    assert set(measures.COLUMNS) & measures.DESCRIPTIVE == set()
    assert not any(re.search(r"[{}|`*]", text) for text in measures.FAMILIES.values())


def test_every_column_of_the_tables_is_a_measure_or_says_what_a_row_is():
    assert [c for c in [*COLUMNS, *rd.RD_COLUMNS] if not measures.known(c)] == []
    waits = measures.measure("startup_s_1mbps").columns
    assert waits == tuple(f"startup_s_{kbps // 1000}mbps" for kbps in LINKS_KBPS)  # aggregate.with_viewer_wait's


def test_a_legend_says_each_shared_convention_once():
    said = measures.legend(["rd_psnr_y", "rd_psnr_rgb", "video", "psnr_stdo_patch"])
    assert said.count(measures.FAMILIES["psnr"]) == 1 and len(said) == 3 + 3  # psnr, codec, papers; 3 measures
    assert said[-1].startswith("psnr_stdo_patch (dB, higher is better): RGB, every patch")


def test_the_summary_legend_covers_every_measure_it_shows():
    items = summary(pd.DataFrame(columns=COLUMNS))[1].items
    for column in ("psnr_stdo_patch", "rd_psnr_y", "vmaf_neg", "kbps_package", "models_and_map_bytes"):
        assert measures.describe(column) in items
