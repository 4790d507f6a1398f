"""A sweep: methods over a budget ladder and several capacities, expanded into methods of their own."""
from __future__ import annotations

from ..errors import InputError


def expand_sweep(config: dict) -> None:
    """Every (family, arch, budget) of the sweep becomes a method `<family>-<arch>-<steps>` (after the
    explicit ones), marked with its cell (`sweep`). A family with `after: F` is two-stage training at
    equal total steps: half the budget trains F's model (the cell `F-<arch>-<steps / 2>`, made if the
    ladder lacks it), the other half this method from it. Idempotent, as `expand_videos`."""
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
