"""The architectures the registry builds and the arguments each takes, without importing torch: the
workflow's parse checks a config against this (every Snakemake process parses the Snakefile, each
Slurm job too), and `stdo.models.register` checks every builder's signature against it, so the two
cannot drift apart (tests/test_models.py builds them all)."""
from __future__ import annotations

# arch -> the keyword arguments of its constructor besides `scale`
ARGS: dict[str, tuple[str, ...]] = {
    "bicubic": (),
    "edsr": ("blocks", "features", "res_scale"),
    "espcn": ("features", "skip"),
    "fsrcnn": ("d", "s", "m", "channels"),
    "rcan": ("groups", "blocks", "features", "reduction"),
    "srcnn": ("features", "kernels"),
    "vdsr": ("depth", "features"),
    "wdsr": ("blocks", "features", "expansion", "res_scale"),
}


def names() -> list[str]:
    return sorted(ARGS)


def unknown_kwargs(arch: str, arch_kwargs: dict) -> list[str]:
    """The arguments of `arch_kwargs` the architecture's constructor does not take."""
    return sorted(set(arch_kwargs) - set(ARGS[arch]))
