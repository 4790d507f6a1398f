"""docs/configuration.md is what the schema generates (`python -m stdo.config.reference`), and the schema documents
every key it accepts: a new key cannot land undocumented, nor the page drift from it."""
from __future__ import annotations

import pytest

from stdo import generated
from stdo.config import reference


@pytest.fixture(scope="module")
def schema():
    return reference.load_schema()


@pytest.fixture(scope="module")
def every_key(schema):
    return list(reference.keys(schema, schema["$defs"]))


def test_the_committed_page_is_what_the_schema_generates():
    differences = generated.stale(reference.files())
    assert not differences, "\n".join(differences) + f"\nrun: {reference.COMMAND}"


def test_every_key_has_a_description_and_what_a_change_reruns(every_key):
    undocumented = [k.path for k in every_key if not k.schema.get("description") or not k.schema.get("reruns")]
    assert not undocumented, f"schema keys without description or reruns: {undocumented}"


def test_every_kind_of_key_is_followed(every_key):
    paths = {k.path for k in every_key}
    # nested objects, named entries of a mapping, both alternatives of a oneOf, a free-form entry
    assert {"grids.x4", "videos.<name>.path", "methods.<name>.fraction", "codec.segment_seconds",
            "general.checkpoint", "general.epochs", "sweep.archs.<name>.arch", "sweep.methods.<name>"} <= paths
    assert "videos.<name>" not in paths and "methods.<name>" not in paths  # entries with keys are described by them


def test_rows_give_type_default_and_reruns(schema):
    rows = {line.split(" | ")[0]: line for line in reference.key_table(schema)}
    assert rows["| `grids.x2`"].startswith("| `grids.x2` | list of integer ≥ 1 | `[20, 10]` | ")
    assert rows["| `codec.encoder`"].startswith("| `codec.encoder` | `libx264`, `libx265`, `libsvtav1` or "
                                                "`libvpx-vp9` | (required) |")
    assert " | `600` (`stdo.config.GENERAL_DEFAULTS`) | " in rows["| `general.steps`"]
    assert rows["| `videos.<name>.fps`"].startswith("| `videos.<name>.fps` | number > 0 or null | `null` |")
    assert rows["| `device`"].startswith(r"| `device` | string matching `^(auto\|cpu\|cuda(:[0-9]+)?)$` |")
    assert rows["| `package.base`"].endswith("| base, package, evaluate and after |")


def test_cells_escape_pipes_and_tags_outside_code():
    assert generated.cell("a | b <name> `x<s> | y`") == r"a \| b &lt;name> `x<s> \| y`"


def test_check_names_the_stale_file_and_fails(tmp_path, capsys):
    page = tmp_path / "page.md"
    page.write_text("old\n")
    assert generated.main(lambda: {page: "new\n"}, "make it", ["--check"]) == 1
    out = capsys.readouterr().out
    assert "page.md (committed)" in out and "-old" in out and "+new" in out and "run: make it" in out
    assert generated.main(lambda: {page: "new\n"}, "make it", []) == 0 and page.read_text() == "new\n"
    assert generated.main(lambda: {page: "new\n"}, "make it", ["--check"]) == 0
