"""Workflow configuration: JSON-schema validation with defaults, the checks a schema cannot
express, and the exact slice of configuration each rule depends on (its Snakemake `params`)."""
from __future__ import annotations

import copy

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match

from . import models
from .errors import InputError

# Defaults of the `general:` block live here, not in the schema: it is a oneOf, and defaults
# filled in while trying one branch would leak into the others.
GENERAL_DEFAULTS = {"arch": "espcn", "arch_kwargs": {}, "steps": 600}


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
    with open(schema_path) as f:
        schema = yaml.safe_load(f)
    error = best_match(_filling_defaults(Draft202012Validator)(schema).iter_errors(config))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InputError(f"config: {where}: {error.message}")
    _check(config)
    return config


def _check(config: dict) -> None:
    general_spec = general(config)
    known = models.names()
    for name, m in config["methods"].items():
        if m["arch"] not in known:
            raise InputError(f"config: methods.{name}.arch: unknown '{m['arch']}'; registered: {', '.join(known)}")
        if m["split"] == "none" and m["k"] != 1:
            raise InputError(f"config: methods.{name}.k: split 'none' makes one chunk, so k must be 1")
        if method(config, name)["init"] == "general":
            if general_spec == "bicubic":
                raise InputError(f"config: methods.{name}.init: 'general' needs a general model, not bicubic")
            if (general_spec["arch"], general_spec["arch_kwargs"]) != (m["arch"], m.get("arch_kwargs", {})):
                raise InputError(f"config: methods.{name}.init: the general model ({general_spec['arch']}) "
                                 f"has another architecture than the method ({m['arch']})")
    if general_spec != "bicubic" and general_spec["arch"] not in known:
        raise InputError(f"config: general.arch: unknown '{general_spec['arch']}'; registered: {', '.join(known)}")


def general(config: dict):
    """The general model's spec: 'bicubic', a checkpoint import, or a training recipe."""
    spec = config["general"]
    if spec == "bicubic":
        return spec
    if "checkpoint" in spec:
        return {"arch": "espcn", "arch_kwargs": {}, **spec}
    recipe = {k: config["train"][k] for k in ("batch_size", "crop", "lr")}
    return {**GENERAL_DEFAULTS, **recipe, **spec}


def method(config: dict, name: str) -> dict:
    """A method's full training recipe: the `train:` defaults overridden by the method's keys."""
    return {**config["train"], "arch_kwargs": {}, **config["methods"][name]}
