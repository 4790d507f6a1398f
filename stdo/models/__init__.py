"""Registry of SR architectures, one file each: `build(name, scale, **kwargs)`."""
# importing registers them
from . import bicubic, edsr, espcn, fsrcnn, rcan, srcnn, vdsr, wdsr  # noqa: F401
from .cafm import CaFM, ChunkView
from .registry import (
                       build,
                       build_from_meta,
                       count_params,
                       load_checkpoint,
                       load_weights,
                       names,
                       save_checkpoint,
                       sidecar,
                       upsample,
)

__all__ = ["CaFM", "ChunkView", "build", "build_from_meta", "count_params", "load_checkpoint",
           "load_weights", "names", "save_checkpoint", "sidecar", "upsample"]
