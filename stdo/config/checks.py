"""The checks a schema cannot express, run at start-up: each refusal is one line naming the key."""
from __future__ import annotations

from .. import archs
from ..errors import InputError
from ..vocabulary import ENCODERS, sparse_update_problem
from .params import codec, general, ladder_names, lr_rates, method, resident_base, warm_start


def check(config: dict) -> None:
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
    """A training budget is given once: optimizer steps, or epochs (passes over the patches,
    `stdo.fitting.step_budget`); a learning curve has no more points than steps (epochs are steps only once
    the chunks are known)."""
    if ("steps" in recipe) == ("epochs" in recipe):
        raise InputError(f"{where}: give exactly one of steps and epochs (the training budget)")
    if recipe.get("curve_points", 0) > recipe.get("steps", float("inf")):
        raise InputError(f"{where}: curve_points {recipe['curve_points']} is more than its {recipe['steps']} steps; "
                         f"set train.curve_points lower")


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


def _ladder_problem(values: list, names: list[str]) -> str | None:
    """Why a ladder's rate points are no ladder: two that name the same folder (62.5 and 62.50001 kbit/s are both
    62.5k), or points out of order, so that its neighbours are not its neighbours in quality."""
    if len(set(names)) < len(names):
        return f"{values} repeats a rate point (as folders: {', '.join(names)})"
    steps = {a < b for a, b in zip(values, values[1:])}
    if len(steps) > 1:
        return f"{values} is not in order; list the rate points from the best quality to the worst, or the reverse"
    return None


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
        key = crf_key if crf_key in block else bitrate_key
        problem = _ladder_problem(block[key], ladder_names(block, crf_key, bitrate_key))
        if problem:
            raise InputError(f"{where}.{key}: {problem}")
    problem = ENCODERS[block["encoder"]].preset_problem(block["preset"])
    if problem:
        raise InputError(f"{where}.preset: {problem}")
    if block["train_on"] not in ("each", *lr_rates(config)):
        raise InputError(f"{where}.train_on: '{block['train_on']}' is neither 'each' nor one of the rate points "
                         f"{', '.join(lr_rates(config))}")
