"""Every relative link and image of README.md, config/README.md and docs/ points at a file or folder that exists
(an anchor within a page is not checked; web addresses are not fetched: nothing downloads in the suite), and every
experiment config has its page: config/experiments/<name>.yaml -> docs/experiments/<name>.md."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *[p for p in [REPO / "config" / "README.md"] if p.exists()],
         *sorted((REPO / "docs").rglob("*.md"))]
EXPERIMENTS = sorted((REPO / "config" / "experiments").glob("*.yaml"))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code blocks hold commands, not links
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    missing = [t for t in relative_links(page) if not (page.parent / t.split("#")[0]).exists()]
    assert not missing, f"{page.relative_to(REPO)}: links to nothing: {missing}"


def test_the_check_finds_links_and_images_but_not_commands_or_addresses(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("See [the manual](docs/a.md#part) and ![a figure](b.png \"title\"), [web](https://x.org), "
                    "[here](#top).\n```bash\necho [not](a_link.md)\n```\n")
    assert relative_links(page) == ["docs/a.md#part", "b.png"]


def test_there_are_experiment_configs_to_check():
    assert EXPERIMENTS, "no config/experiments/*.yaml found"


@pytest.mark.parametrize("config", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_config_has_its_page(config):
    page = REPO / "docs" / "experiments" / f"{config.stem}.md"
    assert page.is_file(), f"{config.relative_to(REPO)} has no page: write {page.relative_to(REPO)}"


@pytest.mark.parametrize("config", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_page_names_its_config(config):
    page = REPO / "docs" / "experiments" / f"{config.stem}.md"
    if page.is_file():
        assert f"config/experiments/{config.name}" in page.read_text(), \
            f"{page.relative_to(REPO)} does not name config/experiments/{config.name}"
