"""The configuration reference, docs/configuration.md, rendered from workflow/schemas/config.schema.yaml: every key
as a dotted path (nested objects, mappings of named entries, `$defs` and the alternatives of a `oneOf` followed),
its type, default, description and which jobs a change of it re-runs (the schema's `reruns`, a keyword of this
project that JSON Schema ignores), then the encoders' defaults (`stdo.vocabulary.ENCODERS`).

`python -m stdo.config.reference` writes the page; `--check` writes nothing and exits 1 naming the difference while
the committed page differs from what the schema generates (tests/test_configuration_reference.py runs it)."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import generated
from ..generated import code, table
from ..vocabulary import ENCODERS
from .params import GENERAL_DEFAULTS, LATER_KEYS

SCHEMA = generated.REPO / "workflow" / "schemas" / "config.schema.yaml"
PAGE = generated.REPO / "docs" / "configuration.md"
COMMAND = "python -m stdo.config.reference"
ENTRY = "<name>"  # the path component of a named entry of a mapping (videos.<name>.path)
# Defaults kept out of the schema (a oneOf, whose defaults would leak from one alternative into another): where
OWN_DEFAULTS = {"general": ("stdo.config.GENERAL_DEFAULTS", GENERAL_DEFAULTS)}


@dataclass(frozen=True)
class Key:
    path: str  # dotted: videos.<name>.path
    schema: dict  # its schema, references resolved
    required: bool


def load_schema(path=SCHEMA) -> dict:
    return yaml.safe_load(Path(path).read_text())


def resolve(node: dict, defs: dict) -> dict:
    """`node` with its `$ref` (to `#/$defs/...`) merged under its own keywords."""
    if "$ref" not in node:
        return node
    target = resolve(defs[node["$ref"].removeprefix("#/$defs/")], defs)
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def keys(node: dict, defs: dict, path: str = "") -> Iterator[Key]:
    """Every key below `node`, depth first in the schema's order; a key an alternative of a `oneOf` repeats comes
    again (`unique` keeps the first)."""
    for branch in (node, *node.get("oneOf", ())):
        branch = resolve(branch, defs)
        required = set(branch.get("required", ()))
        for name, child in branch.get("properties", {}).items():
            child = resolve(child, defs)
            child_path = f"{path}.{name}" if path else name
            yield Key(child_path, child, name in required)
            yield from keys(child, defs, child_path)
        entry = branch.get("additionalProperties")
        if isinstance(entry, dict):
            entry, entry_path = resolve(entry, defs), f"{path}.{ENTRY}"
            if "properties" not in entry:  # a free-form entry is a key of its own
                yield Key(entry_path, entry, False)
            yield from keys(entry, defs, entry_path)


def unique(found) -> list[Key]:
    """The first of the keys of each path."""
    first: dict[str, Key] = {}
    for key in found:
        first.setdefault(key.path, key)
    return list(first.values())


def value(v) -> str:
    """A value as a YAML config writes it: `results`, `""`, `null`, `[20, 10]`, `{}`."""
    if isinstance(v, str):
        return v or '""'
    return yaml.safe_dump(v, default_flow_style=True, width=10**6).removesuffix("...\n").strip()


def bounds(node: dict) -> str:
    """' ≥ 1', ' > 0', ' in [0, 63]', ' in (0, 1]': the range a number must lie in."""
    low = next(((b, node[k]) for k, b in (("minimum", "["), ("exclusiveMinimum", "(")) if k in node), None)
    high = next(((b, node[k]) for k, b in (("maximum", "]"), ("exclusiveMaximum", ")")) if k in node), None)
    if low and high:
        return f" in {low[0]}{low[1]}, {high[1]}{high[0]}"
    if low:
        return f" {'≥' if low[0] == '[' else '>'} {low[1]}"
    return f" {'≤' if high[0] == ']' else '<'} {high[1]}" if high else ""


def type_of(node: dict, defs: dict) -> str:
    """A key's type in words: `integer ≥ 1 or null`, `list of integer in [0, 63]`, `` `none` or object``."""
    node = resolve(node, defs)
    if "const" in node:
        return code(node["const"])
    if "enum" in node:
        names = [code(value(v)) for v in node["enum"]]
        return " or ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} or {names[-1]}"
    if "oneOf" in node:
        return " or ".join(dict.fromkeys(type_of(branch, defs) for branch in node["oneOf"]))
    types = node.get("type", [])
    return " or ".join(_one_type(t, node, defs) for t in ([types] if isinstance(types, str) else types))


def _one_type(name: str, node: dict, defs: dict) -> str:
    if name == "array":
        return f"list of {type_of(node.get('items', {}), defs)}"
    if name == "object":
        return "mapping" if isinstance(node.get("additionalProperties"), dict) else "object"
    if name in ("integer", "number"):
        return name + bounds(node)
    if name == "string" and "pattern" in node:
        return f"string matching {code(node['pattern'])}"
    return name


def default_of(key: Key) -> str:
    if "default" in key.schema:
        return code(value(key.schema["default"]))
    if key.required:
        return "(required)"
    block, _, name = key.path.rpartition(".")
    where, defaults = OWN_DEFAULTS.get(block, ("", {}))
    return f"{code(value(defaults[name]))} ({code(where)})" if name in defaults else "-"


def key_table(schema: dict) -> list[str]:
    defs = schema.get("$defs", {})
    rows = [(code(k.path), type_of(k.schema, defs), default_of(k), k.schema.get("description", ""),
             k.schema.get("reruns", "")) for k in unique(keys(schema, defs))]
    return table(["key", "type", "default", "description", "re-runs"], rows)


def encoder_table() -> list[str]:
    def ladder(block: dict) -> str:
        return ", ".join(f"{code(k)} {code(value(list(v)))}" for k, v in block.items())

    def presets(e) -> str:
        return f"{e.presets.start}-{e.presets.stop - 1}" if e.int_presets else ", ".join(e.presets)

    rows = [(code(e.name), code(e.default_preset), presets(e), f"{e.crf[0]}-{e.crf[1]}", ladder(e.lr_ladder),
             ladder(e.hr_ladder)) for e in ENCODERS.values()]
    return table(["encoder", "default preset", "presets", "CRF range", "LR ladder", "HR ladder"], rows)


HEADER = f"""\
# Configuration reference

<!-- Generated by `{COMMAND}`
from workflow/schemas/config.schema.yaml (each key's `description` and `reruns`) and stdo/vocabulary.py (the
encoders): edit those and run it, not this page (tests/test_configuration_reference.py fails while it differs). -->"""

INTRO = """\
`config/config.yaml` drives the workflow: it is the default run. Every configuration is validated at start-up
against `workflow/schemas/config.schema.yaml`: an unknown key or a bad value stops Snakemake before any job runs,
with one line naming it (e.g. `config: methods.stdo.k: 0 is less than the minimum of 1`). The defaults below are
the schema's, filled in where a configuration leaves a key out; `config/config.yaml` sets several otherwise (the
codec, how packages are delivered, the general model, the methods): read it beside this page.

**Merging configurations.** `snakemake --configfile other.yaml` merges another file over `config/config.yaml`, key
by key, as the experiments in `config/experiments/` do (e.g. `paper.yaml`, the papers' protocol: all methods,
x2/x3/x4, k = 2/4, WDSR and EDSR backbones, GPU-sized budgets). A configuration merged over another drops what it
does not want by null: `methods: null` or `videos: null` drops them all, `methods: {{cafm: null}}` one.
`--config key=value` sets keys on the command line; numbers, booleans and lists of them given there are read as the
schema wants them (e.g. `--config scales=[2,4]`), and null drops there too (`--config methods='{{cafm: null}}'`). Do
not use Snakemake's `--replace-workflow-config`: Snakemake 9.x does not pass it on to the jobs it spawns
(`spawn_jobs.py`: every Slurm job, and the tables' `run:` jobs), which then see the merged configuration and look
for other files than the run planned.

**What a change re-runs.** Each rule's Snakemake `params` carry exactly the keys it depends on, so a changed key
re-runs only the affected jobs (column "re-runs"). Keys added after results existed enter a rule's params only
where their value differs from the one every earlier run had (`stdo.config.params.LATER_KEYS`), so that finished
results re-run nothing: {later}."""

ENCODERS_INTRO = """\
## Encoders

What `codec.encoder` selects: `codec.preset: null` takes the default preset, and a codec block without `crf` or
`bitrate` (`hr_crf` or `hr_bitrate`) takes the LR (HR) ladder below, so switching `encoder` alone switches them
too (`stdo.vocabulary.ENCODERS`; docs/experiments/ladders.md measured them)."""


def later_keys() -> str:
    return ", ".join(f"{code(key)} at {code(value(old))}" for key, old in LATER_KEYS.items())


def page(schema: dict) -> str:
    blocks = [HEADER, INTRO.format(later=later_keys()), "\n".join(key_table(schema)), ENCODERS_INTRO,
              "\n".join(encoder_table())]
    return "\n\n".join(blocks) + "\n"


def files() -> dict[Path, str]:
    return {PAGE: page(load_schema())}


def main(argv=None) -> int:
    return generated.main(files, COMMAND, argv)


if __name__ == "__main__":
    sys.exit(main())
