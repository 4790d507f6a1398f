"""Loading the workflow configuration: JSON-schema validation with every default filled in, the numbers and
booleans Snakemake's `--config` hands over as strings read as the schema wants them, then the sweep and the
dataset folder expanded and the checks a schema cannot express (`checks`)."""
from __future__ import annotations

import copy

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match

from ..errors import InputError
from ..vocabulary import fill_ladders
from .checks import check
from .datasets import expand_videos
from .sweeps import expand_sweep


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
            parent[key] = {name: value for name, value in parent[key].items() if not _null(value)}
    # a method's key set to null drops that key (e.g. `steps: null, epochs: 50` over a method with steps)
    for name, recipe in (config.get("methods") or {}).items():
        if isinstance(recipe, dict):
            config["methods"][name] = {k: v for k, v in recipe.items() if not _null(v)}
    with open(schema_path) as f:
        schema = yaml.safe_load(f)
    validator = _filling_defaults(Draft202012Validator)(schema)
    _validate(config, validator)
    if config.get("sweep"):
        expand_sweep(config)
        _validate(config, validator)  # the methods it made, their defaults filled in
    if not config["methods"]:
        raise InputError("config: no method: give methods (name -> {split, k, arch, steps}) or a sweep")
    if isinstance(config["codec"], dict):
        config["codec"] = fill_ladders(config["codec"])
    expand_videos(config)
    check(config)
    return config


def _null(value) -> bool:
    """None, or YAML's null as Snakemake's `--config methods='{cafm: null}'` hands it over: a string."""
    return value is None or value in ("null", "Null", "NULL", "~")


def _validate(config: dict, validator) -> None:
    while _read_command_line_numbers(config, validator.iter_errors(config)):
        pass
    error = best_match(validator.iter_errors(config))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InputError(f"config: {where}: {error.message}")


SCALARS = {"integer": int, "number": (int, float), "boolean": bool}


def _read_command_line_numbers(config: dict, errors) -> bool:
    """Snakemake hands `--config scales=[2,4]` over as strings ('2', '4'): read a string as YAML where
    the schema wants a number or a boolean and the string is one. True if anything was read."""
    changed = False
    for error in _with_alternatives(errors):
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


def _with_alternatives(errors):
    """The errors and, under a oneOf/anyOf (e.g. `codec`: none or a block), those of each alternative."""
    for error in errors:
        yield error
        yield from _with_alternatives(error.context or [])
