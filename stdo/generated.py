"""Files of the repository written by a generator from their source of truth (the config schema, the registry of
measures), committed, and checked: `main` writes them, or with `--check` exits non-zero naming every file that
differs from what would be written (the first differing lines shown), so that a test or CI fails while one drifts.
And the Markdown the generated pages are made of."""
from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHOWN_LINES = 12  # of the diff of a stale file


def code(value) -> str:
    return f"`{value}`"


def cell(text: str) -> str:
    """Text safe in a GitHub table cell: pipes escaped, and outside code spans `<` too (`<name>` is no tag)."""
    parts = str(text).replace("\n", " ").replace("|", "\\|").split("`")
    return "`".join(part if i % 2 else part.replace("<", "&lt;") for i, part in enumerate(parts))


def table(head: list[str], rows) -> list[str]:
    """The lines of a GitHub Markdown table."""
    return ["| " + " | ".join(map(cell, cells)) + " |" for cells in (head, ["---"] * len(head), *rows)]


def stale(files: dict[Path, str]) -> list[str]:
    """A short diff per file whose text differs from the one given (a missing file differs from any text)."""
    found = []
    for path, text in files.items():
        now = path.read_text() if path.exists() else ""
        if now != text:
            name = str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)
            diff = difflib.unified_diff(now.splitlines(), text.splitlines(), f"{name} (committed)",
                                        f"{name} (generated)", lineterm="", n=0)
            found.append("\n".join(list(diff)[:SHOWN_LINES]))
    return found


def main(files: Callable[[], dict[Path, str]], command: str, argv=None) -> int:
    """Write the generated files, or with --check report those that differ (exit 1)."""
    parser = argparse.ArgumentParser(prog=command, description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming the files that differ")
    args = parser.parse_args(argv)
    texts = files()
    differences = stale(texts)
    if args.check:
        for difference in differences:
            print(difference)
        if differences:
            print(f"{len(differences)} generated file(s) differ from their source; run: {command}")
        return 1 if differences else 0
    for path, text in texts.items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return 0
