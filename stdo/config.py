"""Workflow configuration: JSON-schema validation with defaults, the checks a schema cannot
express, and the exact slice of configuration each rule depends on (its Snakemake `params`)."""
from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match

from . import archs
from .errors import InputError
from .sources import IMAGE_SUFFIXES, VSD4K_HR
from .vocabulary import ENCODERS, LOSSLESS

# Defaults of the `general:` block live here, not in the schema: it is a oneOf, and defaults
# filled in while trying one branch would leak into the others. The general model's recipe is its own:
# it labels the patches, so a change of the methods' training (`train:`) must not change the chunks.
GENERAL_DEFAULTS = {"arch": "espcn", "arch_kwargs": {}, "steps": 600, "batch_size": 32, "crop": 32, "lr": 0.001}


def _filling_defaults(cls):
    check_properties = cls.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if validator.is_type(instance, "object"):
            for name, sub in props.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, props, instance, schema)

    return validators.extend(cls, {"properties": properties})


def load(config: dict, schema_path) -> dict:
    """A validated copy of `config` with every default filled in; InputError names a bad key."""
    config = copy.deepcopy(dict(config))
    # an entry set to null drops that entry of a config merged under this one
    for parent, key in ((config, "videos"), (config, "methods"), (config.get("sweep"), "archs"),
                        (config.get("sweep"), "methods")):
        if isinstance(parent, dict) and isinstance(parent.get(key), dict):
            parent[key] = {name: value for name, value in parent[key].items() if value is not None}
    # a method's key set to null drops that key (e.g. `steps: null, epochs: 50` over a method with steps)
    for name, recipe in (config.get("methods") or {}).items():
        if isinstance(recipe, dict):
            config["methods"][name] = {k: v for k, v in recipe.items() if v is not None}
    with open(schema_path) as f:
        schema = yaml.safe_load(f)
    validator = _filling_defaults(Draft202012Validator)(schema)
    _validate(config, validator)
    if config.get("sweep"):
        _expand_sweep(config)
        _validate(config, validator)  # the methods it made, their defaults filled in
    if not config["methods"]:
        raise InputError("config: no method: give methods (name -> {split, k, arch, steps}) or a sweep")
    _expand_videos(config)
    _check(config)
    return config


def _validate(config: dict, validator) -> None:
    while _read_command_line_numbers(config, validator.iter_errors(config)):
        pass
    error = best_match(validator.iter_errors(config))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InputError(f"config: {where}: {error.message}")


# ---------------------------------------------------------------- a sweep: methods over budgets and capacities

def _expand_sweep(config: dict) -> None:
    """Every (family, arch, budget) of the sweep becomes a method `<family>-<arch>-<steps>` (after the
    explicit ones), marked with its cell (`sweep`). A family with `after: F` is two-stage training at
    equal total steps: half the budget trains F's model (the cell `F-<arch>-<steps / 2>`, made if the
    ladder lacks it), the other half this method from it. Idempotent, as `_expand_videos`."""
    sweep = config["sweep"]
    methods = {name: m for name, m in (config["methods"] or {}).items() if "sweep" not in m}
    made = {}
    for family, spec in sweep["methods"].items():
        if not {"arch", "steps", "epochs", "arch_kwargs"}.isdisjoint(spec):
            raise InputError(f"config: sweep.methods.{family}: arch, arch_kwargs and steps come from the sweep "
                             "(a sweep's budgets are steps, not epochs)")
        first = spec.get("after")
        if first is not None and (first not in sweep["methods"] or sweep["methods"][first].get("after")):
            raise InputError(f"config: sweep.methods.{family}.after: '{first}' is not a one-stage family of the sweep")
        for arch_name, arch in sweep["archs"].items():
            for budget in sweep["steps"]:
                recipe = {k: v for k, v in spec.items() if k != "after"}
                steps = budget if first is None else budget // 2
                if first is not None:
                    recipe["init"] = _sweep_cell(first, sweep["methods"][first], arch_name, arch, steps, made)
                made[f"{family}-{arch_name}-{budget}"] = {
                    **recipe, **arch, "steps": steps if first is None else budget - steps,
                    "sweep": {"family": family, "arch": arch_name, "total_steps": budget}}
    clash = sorted(set(methods) & set(made))
    if clash:
        raise InputError(f"config: methods.{clash[0]}: also a method the sweep makes; rename it")
    config["methods"] = {**methods, **dict(sorted(made.items(), key=lambda kv: _cell_order(kv[1], sweep)))}


def _sweep_cell(family: str, spec: dict, arch_name: str, arch: dict, steps: int, made: dict) -> str:
    name = f"{family}-{arch_name}-{steps}"
    made.setdefault(name, {**spec, **arch, "steps": steps,
                           "sweep": {"family": family, "arch": arch_name, "total_steps": steps}})
    return name


def _cell_order(method: dict, sweep: dict):
    cell = method["sweep"]
    return list(sweep["methods"]).index(cell["family"]), list(sweep["archs"]).index(cell["arch"]), cell["total_steps"]


def sweep_cells(config: dict) -> dict[str, dict]:
    """method -> its sweep cell: family, arch and total_steps (its warm start's steps included)."""
    return {name: m["sweep"] for name, m in config["methods"].items() if "sweep" in m}


def sweep_baseline(config: dict) -> str | None:
    """The sweep's one-model family (split none, trained in one stage) the others are measured against."""
    families = config.get("sweep", {}).get("methods", {})
    return next((f for f, spec in families.items() if spec.get("split") == "none" and "after" not in spec), None)


SCALARS = {"integer": int, "number": (int, float), "boolean": bool}


def _read_command_line_numbers(config: dict, errors) -> bool:
    """Snakemake hands `--config scales=[2,4]` over as strings ('2', '4'): read a string as YAML where
    the schema wants a number or a boolean and the string is one. True if anything was read."""
    changed = False
    for error in errors:
        wanted = error.validator_value if error.validator == "type" else None
        wanted = [wanted] if isinstance(wanted, str) else wanted or []
        if not isinstance(error.instance, str) or not error.absolute_path:
            continue
        try:
            value = yaml.safe_load(error.instance)
        except yaml.YAMLError:
            continue
        if any(t in SCALARS and isinstance(value, SCALARS[t]) and not (t != "boolean" and isinstance(value, bool))
               for t in wanted):
            *parents, last = error.absolute_path
            container = config
            for key in parents:
                container = container[key]
            container[last] = value
            changed = True
    return changed


# ---------------------------------------------------------------- videos, and clips of a dataset folder

# Files of a dataset folder taken for videos (ingest decodes anything OpenCV's FFmpeg reads, but a folder
# also holds notes, lists and thumbnails: only these suffixes count as clips).
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mkv", ".mov", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".mts",
                            ".m2ts", ".flv", ".wmv", ".ogv", ".3gp", ".y4m"})
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # the schema's $defs/name


def _expand_videos(config: dict) -> None:
    """Every clip `videos_from` finds becomes an entry of `videos` (after the explicit ones, in natural order
    of its path), with its category; explicit entries without a category get their own name. Idempotent:
    entries an earlier expansion added (`found_in`) are found again, not taken for explicit ones."""
    spec = config.get("videos_from")
    videos = {name: entry for name, entry in (config["videos"] or {}).items()
              if spec is None or entry.get("found_in") != spec["folder"]}
    if not videos and spec is None:
        raise InputError("config: no video: give videos (name -> {path: ...}) or videos_from ({folder: ...}), "
                         "or both")
    for name, entry in videos.items():
        entry["category"] = entry["category"] or name
    if spec is not None:
        found = {}
        for rel in dataset_clips(spec["folder"], spec["pattern"]):
            name = clip_name(rel, spec["folder"])
            clash = found.get(name)
            if name in videos or clash is not None:
                other = f"videos.{name}" if clash is None else f"clip '{clash}'"
                raise InputError(f"config: videos_from: clip '{rel.as_posix()}' and {other} both get the video "
                                 f"name '{name}'; rename one, or list one under videos: with its own name")
            found[name] = rel.as_posix()
            videos[name] = {"path": str(Path(spec["folder"]) / rel), "max_frames": spec["max_frames"],
                            "allow_truncated": spec["allow_truncated"], "fps": spec["fps"],
                            "category": clip_category(rel, spec), "found_in": spec["folder"]}
    config["videos"] = videos


def dataset_clips(folder, pattern: str = "*") -> list[Path]:
    """The clips under `folder` that `pattern` (a glob relative to it) matches, as paths relative to it, in
    natural order. A clip is a video file (VIDEO_SUFFIXES), a VSD4K clip folder (DIV2K_train_HR/) or a folder
    of frames (images right in it); a matched folder that is none of them (a category folder) is searched for
    clips below it. Hidden entries, other files and clips inside a clip are left out."""

    root = Path(folder)
    where = f"config: videos_from: folder {folder}" + ("" if root.is_absolute() else f" (= {root.resolve()})")
    if not root.is_dir():
        raise InputError(f"{where}: {'not a folder' if root.exists() else 'no such folder'}")
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        raise InputError(f"config: videos_from.pattern: '{pattern}' must be a glob relative to the folder")

    def kind(path: Path):
        if path.is_dir():
            if (path / VSD4K_HR).is_dir():
                return "clip"
            entries = [p for p in path.iterdir() if not p.name.startswith(".")]
            return "clip" if any(p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() for p in entries) else "folder"
        return "clip" if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES else None

    clips, seen = set(), set()

    def visit(path: Path) -> None:
        rel = path.relative_to(root)
        hidden = any(part.startswith(".") for part in rel.parts)
        in_clip = any((root.joinpath(*rel.parts[:i]) / VSD4K_HR).is_dir() for i in range(len(rel.parts)))
        what = None if hidden or in_clip else kind(path)  # not the frame folders of a VSD4K clip
        if what == "clip":
            clips.add(rel)
        elif what == "folder" and path.resolve() not in seen:  # a link back up is searched once
            seen.add(path.resolve())
            for child in sorted(path.iterdir()):
                visit(child)

    try:
        matched = sorted(root.glob(pattern))
    except (ValueError, NotImplementedError) as err:
        raise InputError(f"config: videos_from.pattern: '{pattern}': {err}") from None
    for path in matched:
        visit(path)
    # a pattern such as **/* also matches the frame folders inside a VSD4K clip: keep the clip only
    clips = [c for c in clips if not any(other in c.parents for other in clips)]
    if not clips:
        hint = f"{len(matched)} entries matched, none is or holds" if matched else "nothing matched; expected"
        if kind(root) == "clip":
            hint += "; the folder itself is one clip: give it under videos: {name: {path: ...}}"
        raise InputError(f"{where}, pattern '{pattern}': no clip ({hint} a video file "
                         f"({', '.join(sorted(VIDEO_SUFFIXES))}), a VSD4K clip folder ({VSD4K_HR}/) "
                         f"or a folder of frames)")
    return sorted(clips, key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.as_posix())])


def _clip_stem(rel: Path) -> str:
    return rel.stem if rel.suffix.lower() in VIDEO_SUFFIXES else rel.name


def clip_name(rel: Path, folder="") -> str:
    """A clip's video name: its path under the dataset folder, video suffix dropped, folders joined by '-',
    every run of other characters than letters, digits and _ . - made one '_' and dropped at the ends (the
    names the schema and the wildcard constraints accept): game/clip 1.mp4 -> game-clip_1."""
    words = re.findall(r"[A-Za-z0-9_.-]+", "-".join([*rel.parent.parts, _clip_stem(rel)]))
    name = re.sub(r"^[^A-Za-z0-9]+", "", "_".join(words))
    if not NAME_PATTERN.match(name):
        raise InputError(f"config: videos_from: clip '{Path(folder) / rel}': no video name can be made of its "
                         f"path (letters, digits, _ . -); list it under videos: with a name")
    return name


def clip_category(rel: Path, spec: dict) -> str:
    """The category of a clip at `rel` under the dataset folder (see the schema's videos_from)."""
    if spec["category_from"] == "subfolder" and len(rel.parts) > 1:
        return rel.parts[0]
    if spec["category_from"] == "prefix" and "_" in _clip_stem(rel).strip("_"):
        return _clip_stem(rel).strip("_").split("_", 1)[0]
    return spec["category"] or Path(spec["folder"]).resolve().name or "dataset"


def _check(config: dict) -> None:
    _check_codec(config)
    _check_package(config)
    general_spec = general(config)
    known = archs.names()
    if general_spec != "bicubic":
        if "checkpoint" not in general_spec:
            _check_budget("config: general", general_spec)
        if general_spec["arch"] not in known:
            raise InputError(f"config: general.arch: unknown '{general_spec['arch']}'; registered: {', '.join(known)}")
        _check_arch_kwargs("config: general", general_spec)
    for name in config["methods"]:
        _check_method(config, name, general_spec, known)


def _check_package(config: dict) -> None:
    if config["package"]["ship"] == "delta" and not resident_base(config):
        raise InputError("config: package.ship: delta sends models as their difference to the resident base, "
                         "so it needs package.base: resident")
    if resident_base(config) and general(config) == "bicubic":
        raise InputError("config: package.base: resident installs the general model with the player, but general "
                         "is bicubic")


def _check_method(config: dict, name: str, general_spec, known) -> None:
    m, where = method(config, name), f"config: methods.{name}"
    _check_budget(where, m)
    if m["arch"] not in known:
        raise InputError(f"{where}.arch: unknown '{m['arch']}'; registered: {', '.join(known)}")
    _check_arch_kwargs(where, m)
    if m["split"] == "none" and m["k"] != 1:
        raise InputError(f"{where}.k: split 'none' makes one chunk, so k must be 1")
    if m["split"] == "kmeans" and config.get("label_by", "general") != "general":
        raise InputError(f"{where}.split: kmeans clusters on the general model's patch PSNR, which label_by: "
                         f"{config['label_by']} does not measure; use label_by: general")
    if m["mode"] == "cafm" and m["k"] < 2:
        raise InputError(f"{where}.k: cafm modulates a shared backbone per chunk, so it needs k >= 2 "
                         "(with one chunk it is m0)")
    if m["mode"] == "jstdo":
        if m["split"] not in ("stdo", "kmeans"):
            raise InputError(f"{where}.split: jstdo keeps chunks by difficulty, so it needs split stdo or kmeans")
        if len(m.get("keep", [])) != m["k"]:
            raise InputError(f"{where}.keep: jstdo needs one keep fraction per chunk ({m['k']})")
        if not any(m["keep"]):
            raise InputError(f"{where}.keep: {m['keep']} keeps no patch to train on")
    if m["finetune"] and (m["mode"] != "cafm" or m["init"] == "scratch"):
        raise InputError(f"{where}.finetune: only for mode cafm, on a warm-started backbone (init general or m0)")
    if "fraction" in m:
        _check_fraction(config, where, m)
    source = warm_start(config, name)
    if source is None:
        return
    if source == "bicubic":
        raise InputError(f"{where}.init: 'general' needs a general model, not bicubic")
    if (source["arch"], source["arch_kwargs"]) != (m["arch"], m["arch_kwargs"]):
        raise InputError(f"{where}.init: the {m['init']} model ({source['arch']} {source['arch_kwargs']}) has another "
                         f"architecture than the method ({m['arch']} {m['arch_kwargs']})")


def _check_budget(where: str, recipe: dict) -> None:
    """A training budget is given once: optimizer steps, or epochs (passes over the patches, `stdo.train.step_budget`);
    a learning curve has no more points than steps (epochs are steps only once the chunks are known)."""
    if ("steps" in recipe) == ("epochs" in recipe):
        raise InputError(f"{where}: give exactly one of steps and epochs (the training budget)")
    if recipe.get("curve_points", 0) > recipe.get("steps", float("inf")):
        raise InputError(f"{where}: curve_points {recipe['curve_points']} is more than its {recipe['steps']} steps; "
                         f"set train.curve_points lower")


def sparse_update_problem(init: str, mode: str) -> str | None:
    """Why a model cannot be trained as a sparse update (fraction), where the training function itself can tell."""
    if mode == "cafm":
        return "not for mode cafm: its chunk modules are no part of the base and ship whole"
    if init == "scratch":
        return "a sparse update changes a few weights of a warm start, and init scratch has none"
    return None


def _check_fraction(config: dict, where: str, m: dict) -> None:
    """A sparse update (fraction) of the general model is what a delta ships: only warm starts from the general
    model sent as deltas, and not CaFM, whose chunk modules are no part of the base."""
    problem = sparse_update_problem(m["init"], m["mode"])
    if problem:
        raise InputError(f"{where}.fraction: {problem}")
    if m["init"] != "general":
        raise InputError(f"{where}.fraction: a sparse update of the general model, so it needs init: general "
                         f"(not {m['init']})")
    if config["package"]["ship"] != "delta":
        raise InputError(f"{where}.fraction: a sparse update only pays where it ships as a delta to the resident "
                         "base, so it needs package.ship: delta")


def _check_arch_kwargs(where: str, spec: dict) -> None:
    unknown = archs.unknown_kwargs(spec["arch"], spec.get("arch_kwargs") or {})
    if unknown:
        raise InputError(f"{where}.arch_kwargs: {spec['arch']} takes no argument {', '.join(map(repr, unknown))}")


def warm_start(config: dict, name: str):
    """The recipe of the model a method starts from (None for scratch); checks that it exists."""
    init = method(config, name)["init"]
    if init == "scratch":
        return None
    if init == "general":
        return general(config)
    source = config["methods"].get(init)
    if init == name or source is None or source["split"] != "none" or method(config, init)["mode"] != "per_chunk":
        raise InputError(f"config: methods.{name}.init: '{init}' is not scratch, general or another method with "
                         f"split none (one model of the whole video, such as m0)")
    return method(config, init)


def general(config: dict):
    """The general model's spec: 'bicubic', a checkpoint import, or a training recipe."""
    spec = config["general"]
    if spec == "bicubic":
        return spec
    if "checkpoint" in spec:
        return {"arch": "espcn", "arch_kwargs": {}, **spec}
    defaults = {k: v for k, v in GENERAL_DEFAULTS.items() if k != "steps" or "epochs" not in spec}
    return {**defaults, **spec}


def general_recipe(config: dict, scale: int) -> dict:
    """Everything the general model of `scale` is made from: the general job's params."""
    return {"spec": general(config), "scale": scale, "seed": config["seed"], "precision": config["precision"],
            "device": config["device"]}


def general_hash(config: dict, scale: int) -> str:
    """A short hash of the general model's recipe, part of its file names: results folders that share a
    resources folder share one file per distinct recipe, and no recipe overwrites another's model."""
    recipe = json.dumps(general_recipe(config, scale), sort_keys=True)
    return hashlib.sha256(recipe.encode()).hexdigest()[:10]


def method(config: dict, name: str) -> dict:
    """A method's full training recipe: the `train:` defaults overridden by the method's keys (its sweep
    cell, a label, left out)."""
    return {**config["train"], "arch_kwargs": {}, **{k: v for k, v in config["methods"][name].items() if k != "sweep"}}


def model_files(config: dict, name: str) -> list[str]:
    """The checkpoint names a method's training writes: one per chunk, or one joint model."""
    m = method(config, name)
    if m["mode"] == "per_chunk":
        return [f"chunk{c}.pt" for c in range(m["k"])]
    return ["joint.pt"]


# ---------------------------------------------------------------- rate points



# How the package's model files are stored and sent (stdo.package.build's defaults, as the schema's)
MODEL_STORAGE = {"weights": "fp16", "compression": "none", "ship": "weights"}
# Top-level keys that came after results existed, with the value every earlier run had
LATER_KEYS = {"vmaf_subsample": 1, "label_by": "general"}


def off_default(values: dict, defaults: dict) -> dict:
    """The entries of `values` named in `defaults` that differ from the default there. Keys added after
    results existed enter a job's params only this way, so Snakemake's params trigger re-runs no finished job."""
    return {k: values[k] for k, default in defaults.items() if values[k] != default}


def package_params(config: dict) -> dict:
    """The package rule's settings: `playback` (recorded in the manifest as the client's default) and
    how the model files are stored and sent. The latter are left out at their defaults, so that packages
    built before these keys existed keep their params and Snakemake's params trigger rebuilds none of them.
    The resident base (package.base) is not among them: the workflow passes the base's own file."""
    block = config["package"]
    playback = {k: v for k, v in block.items() if k not in (*MODEL_STORAGE, "base")}
    return {"playback": playback, **off_default(block, MODEL_STORAGE)}


def decoded_start(config: dict, name: str) -> dict:
    """The train rule's `init_weights` where a method's models ship as deltas (package.ship: delta, init general):
    they start from the resident base as the client decodes it (stored as package.weights), so that a weight
    training leaves alone has delta 0. Empty while ship is at its default (off_default), so that finished runs
    keep their train params."""
    shipping = off_default(config["package"], {"ship": MODEL_STORAGE["ship"]})
    if shipping.get("ship") == "delta" and method(config, name)["init"] == "general":
        return {"init_weights": config["package"]["weights"]}
    return {}


def resident_base(config: dict) -> bool:
    """Whether the general model is installed with the player (package.base: resident), not sent per video."""
    return config["package"]["base"] == "resident"


def base_params(config: dict) -> dict:
    """The base rule's settings: the base is stored as the package's model files are."""
    return {k: config["package"][k] for k in ("weights", "compression")}


def codec(config: dict) -> dict | None:
    """The codec block, or None for `codec: none` (lossless LR only, the papers' setting)."""
    return None if config["codec"] == "none" else config["codec"]


def rate_name(crf: int | None = None, kbps: float | None = None) -> str:
    """A rate point's name, used in paths: crf30, 500k, 62.5k."""
    return f"crf{crf}" if crf is not None else f"{kbps:g}k"


def rate_settings(name: str) -> dict:
    """The encoder setting a rate point's name stands for."""
    if name == LOSSLESS:
        return {"lossless": True}
    if name.startswith("crf"):
        return {"crf": int(name[3:])}
    return {"bitrate_kbps": float(name[:-1])}


def _ladder(block: dict, crf_key: str, bitrate_key: str) -> list[str]:
    if crf_key in block:
        return [rate_name(crf=v) for v in block[crf_key]]
    return [rate_name(kbps=v) for v in block.get(bitrate_key, [])]


def lr_rates(config: dict) -> list[str]:
    """The LR stream's rate points: lossless first, then the codec's ladder."""
    block = codec(config)
    return [LOSSLESS] + (_ladder(block, "crf", "bitrate") if block else [])


def hr_rates(config: dict) -> list[str]:
    """The rate points of the HR codec baseline (none without a codec)."""
    block = codec(config)
    return _ladder(block, "hr_crf", "hr_bitrate") if block else []


def train_rate(config: dict, rate: str) -> str:
    """The rate point whose decoded LR frames a package's models were trained on."""
    block = codec(config)
    train_on = block["train_on"] if block else LOSSLESS
    return rate if train_on == "each" else train_on


def showcase_rate(config: dict) -> str:
    """The rate point of the side-by-side video: the configured one, else the middle of the LR ladder."""
    rates = lr_rates(config)
    return config["showcase"]["rate"] or rates[len(rates) // 2]


def _check_codec(config: dict) -> None:
    rate = config["showcase"]["rate"]
    if rate is not None and rate not in lr_rates(config):
        raise InputError(f"config: showcase.rate: '{rate}' is not one of the rate points {', '.join(lr_rates(config))}")
    block = codec(config)
    if block is None:
        return
    where = "config: codec"
    for crf_key, bitrate_key in (("crf", "bitrate"), ("hr_crf", "hr_bitrate")):
        if (crf_key in block) == (bitrate_key in block):
            raise InputError(f"{where}: give exactly one of {crf_key} and {bitrate_key}")
        problems = [ENCODERS[block["encoder"]].crf_problem(v) for v in block.get(crf_key, [])]
        if any(problems):
            raise InputError(f"{where}.{crf_key}: {next(filter(None, problems))}")
    problem = ENCODERS[block["encoder"]].preset_problem(block["preset"])
    if problem:
        raise InputError(f"{where}.preset: {problem}")
    if block["train_on"] not in ("each", *lr_rates(config)):
        raise InputError(f"{where}.train_on: '{block['train_on']}' is neither 'each' nor one of the rate points "
                         f"{', '.join(lr_rates(config))}")
