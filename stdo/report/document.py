"""Titled tables and notes, written as Markdown (the aggregate stage's .md files) or as a small
self-contained HTML page (the report's): both outputs from the same DataFrames, through pandas.

A table holds the text it shows, every cell a string formatted once, so the two outputs cannot disagree."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pandas as pd
from pandas.io.formats.style import Styler

NUMBER = re.compile(r"[-+]?\d[\d.,]*|-")  # a number as shown, or '-' for not measured
STYLE = """
body { font-family: sans-serif; font-size: 14px; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; }
th, td { border: 1px solid #bbb; padding: 3px 8px; }
th { background: #eef; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
p, ul { max-width: 60em; }
"""


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame  # strings only: the cells as shown
    title: str = ""


@dataclass(frozen=True)
class Note:
    """A paragraph, and the items of a list under it."""
    text: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Heading:
    text: str


def number(value, digits: int) -> str:
    """A number as the tables show it: `digits` decimals, '-' where not measured (NaN)."""
    return "-" if pd.isna(value) else f"{value:.{digits}f}"


def numeric_columns(frame: pd.DataFrame) -> list[bool]:
    """Which columns hold numbers only (or '-'): right-aligned in both outputs."""
    return [bool(frame.iloc[:, i].map(NUMBER.fullmatch).notna().all()) for i in range(frame.shape[1])]


def markdown(blocks) -> str:
    return "\n\n".join(map(markdown_block, blocks)) + "\n"


def markdown_block(block: Table | Note | Heading) -> str:
    match block:
        case Table(frame, title):
            align = ["right" if numeric else "left" for numeric in numeric_columns(frame)]
            table = frame.to_markdown(index=False, disable_numparse=True, colalign=align)
            return f"**{title}**\n\n{table}" if title else table
        case Note(text, items):
            return "\n".join([text, *(f"- {item}" for item in items)])
        case Heading(text):
            return f"## {text}"


def html_page(title: str, blocks) -> str:
    body = "\n".join(html_block(block, f"table{i}") for i, block in enumerate(blocks))
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n")


def html_block(block: Table | Note | Heading, table_id: str) -> str:
    """`table_id` names a table apart from the page's others (Styler's own is random: a new page every run)."""
    match block:
        case Table(frame, title):
            numeric = numeric_columns(frame)
            classes = pd.DataFrame([["num" if n else "" for n in numeric]] * len(frame), index=frame.index,
                                   columns=frame.columns)
            styler = (Styler(frame, cell_ids=False).hide(axis="index").format(escape="html")
                      .format_index(escape="html", axis=1).set_td_classes(classes))
            heading = f"<p><strong>{html.escape(title)}</strong></p>\n" if title else ""
            return heading + styler.to_html(table_uuid=table_id)
        case Note(text, items):
            listed = "".join(f"<li>{html.escape(item)}</li>" for item in items)
            return f"<p>{html.escape(text)}</p>" + (f"<ul>{listed}</ul>" if items else "")
        case Heading(text):
            return f"<h2>{html.escape(text)}</h2>"
