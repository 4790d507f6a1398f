"""What each rule depends on, from the loaded configuration: the recipes (the general model's, a method's), the
rate points, and the package settings; the one place the rules' `params` are made of. Keys added after results
existed enter a job's params only off their old default (`off_default`), so finished runs re-run nothing."""
from __future__ import annotations

import hashlib
import json

from ..errors import InputError
from ..vocabulary import LOSSLESS, rate_name

# Defaults of the `general:` block live here, not in the schema: it is a oneOf, and defaults
# filled in while trying one branch would leak into the others. The general model's recipe is its own:
# it labels the patches, so a change of the methods' training (`train:`) must not change the chunks.
GENERAL_DEFAULTS = {"arch": "espcn", "arch_kwargs": {}, "steps": 600, "batch_size": 32, "crop": 32, "lr": 0.001}


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


# The finished-runs policy, decided once: a key added after results existed enters a job's params only where its
# value differs from the one every earlier run had, so Snakemake's params trigger re-runs no finished job and a
# changed value re-runs exactly the jobs it changes. The table: dotted key -> the value runs had before it existed.
LATER_KEYS = {"vmaf_subsample": 1, "label_by": "general", "package.weights": "fp16", "package.compression": "none",
              "package.ship": "weights", "train.loss": "l1", "codec.segment_seconds": None}


def later_keys(block: str = "") -> dict:
    """The entries of LATER_KEYS in a block of the configuration ('' for the top level), by their key there."""
    prefix = f"{block}." if block else ""
    return {k.removeprefix(prefix): v for k, v in LATER_KEYS.items() if k.startswith(prefix) and "." not in
            k.removeprefix(prefix)}


# How the package's model files are stored and sent (stdo.package.build's defaults, as the schema's)
MODEL_STORAGE = later_keys("package")


def off_default(values: dict, defaults: dict) -> dict:
    """The entries of `values` named in `defaults` that differ from the default there (a key `values` lacks is at
    its default)."""
    return {k: values[k] for k, default in defaults.items() if values.get(k, default) != default}


def train_params(config: dict, name: str, scale: int) -> dict:
    """The train rule's params: the method's recipe (`stdo.fitting.Recipe`), its later keys only off their old
    values, and the run's budget, precision, scale, seed and device."""
    recipe = method(config, name)
    later = later_keys("train")
    return {**{k: v for k, v in recipe.items() if k not in later}, **off_default(recipe, later),
            **decoded_start(config, name), "budget": config["budget"], "precision": config["precision"],
            "scale": scale, "seed": config["seed"], "device": config["device"]}


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


def ladder_names(block: dict, crf_key: str, bitrate_key: str) -> list[str]:
    """The rate points' names (their folders) of one stream's ladder."""
    if crf_key in block:
        return [rate_name(crf=v) for v in block[crf_key]]
    return [rate_name(kbps=v) for v in block.get(bitrate_key, [])]


def lr_rates(config: dict) -> list[str]:
    """The LR stream's rate points: lossless first, then the codec's ladder."""
    block = codec(config)
    return [LOSSLESS] + (ladder_names(block, "crf", "bitrate") if block else [])


def hr_rates(config: dict) -> list[str]:
    """The rate points of the HR codec baseline (none without a codec)."""
    block = codec(config)
    return ladder_names(block, "hr_crf", "hr_bitrate") if block else []


def train_rate(config: dict, rate: str) -> str:
    """The rate point whose decoded LR frames a package's models were trained on."""
    block = codec(config)
    train_on = block["train_on"] if block else LOSSLESS
    return rate if train_on == "each" else train_on


def showcase_rate(config: dict) -> str:
    """The rate point of the side-by-side video: the configured one, else the middle of the LR ladder."""
    rates = lr_rates(config)
    return config["showcase"]["rate"] or rates[len(rates) // 2]
