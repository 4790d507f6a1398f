"""Registry of SR architectures, one file each: `build(name, scale, **kwargs)`."""
from . import bicubic, espcn  # noqa: F401  (importing registers them)
from .registry import (build, count_params, load_checkpoint, load_weights, names,
                       save_checkpoint, sidecar, upsample)

__all__ = ["build", "count_params", "load_checkpoint", "load_weights", "names",
           "save_checkpoint", "sidecar", "upsample"]
