"""Stage 2: the general SR model that labels patch difficulty; it never sees the video.

Three kinds, chosen by the `general:` config:
- train (default): a small model trained per scale on the natural photos that scikit-image
  ships (`skimage/data`), degraded with the same antialiased bicubic as the pipeline's LR frames;
- {checkpoint: path}: a user's weights (a state_dict for the configured arch), checked and copied;
- "bicubic": label with bicubic interpolation.
Nothing is downloaded."""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from . import models
from .errors import InputError
from .fitting import CropSampler, fit, initial_model, ran_as, step_budget, steps_of
from .infer import choose_precision, precision_note, setup
from .io import read_image, sha256_files
from .patches import Grid, cut
from .resample import downscale

log = logging.getLogger(__name__)

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
          "motorcycle_right.png", "hubble_deep_field.jpg", "ihc.png", "retina.jpg")


def photo_dir() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("general: train needs the scikit-image package (it ships the photos)")
    return Path(spec.submodule_search_locations[0]) / "data"


def photo_tiles(scale: int, tile: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Aligned (LR, HR) tiles of `tile` LR pixels cut from the bundled photos."""
    lr_tiles, hr_tiles = [], []
    for name in PHOTOS:
        path = photo_dir() / name
        if not path.exists():
            raise InputError(f"{path}: photo missing from the scikit-image install")
        hr = read_image(path)
        grid = Grid(rows=hr.shape[0] // (scale * tile), cols=hr.shape[1] // (scale * tile),
                    patch_h=tile, patch_w=tile, scale=scale)
        hr = hr[None, : grid.rows * tile * scale, : grid.cols * tile * scale]
        lr_tiles.append(cut(downscale(hr, scale), grid))
        hr_tiles.append(cut(hr, grid, scale))
    return np.concatenate(lr_tiles), np.concatenate(hr_tiles)


def make_general(out, scale: int, spec, seed: int = 0, precision: str = "auto", device: str = "auto",
                 threads: int = 1) -> dict:
    """Write the general model of one scale (checkpoint + sidecar) to `out`; return its sidecar."""
    if spec == "bicubic":
        model, meta = models.build("bicubic", scale), {"arch": "bicubic", "source": "bicubic"}
    elif "checkpoint" in spec:
        model, meta = _imported(scale, spec)
    else:
        model, meta = _trained(scale, spec, seed, precision, device, threads)
    models.save_checkpoint(model, out, {"scale": scale, "arch_kwargs": {}, **meta})
    return meta


def _imported(scale: int, spec: dict):
    path = Path(str(spec["checkpoint"]).format(scale=scale))
    if not path.is_file():
        raise InputError(f"general.checkpoint: {path}: no such file")
    kwargs = spec.get("arch_kwargs", {})
    model = models.build(spec["arch"], scale, **kwargs)
    models.load_weights(model, path)
    return model, {"arch": spec["arch"], "arch_kwargs": kwargs, "source": str(path),
                   "source_sha256": sha256_files([path])}


def _trained(scale: int, spec: dict, seed: int, precision: str, device: str, threads: int):
    dev = setup(device, threads)
    lr, hr = photo_tiles(scale)
    kwargs = spec.get("arch_kwargs", {})
    model = initial_model(spec["arch"], kwargs, scale, "scratch", None, seed)
    epochs, batch = spec.get("epochs"), spec["batch_size"]
    steps = steps_of(step_budget(spec.get("steps"), epochs, len(lr), batch), epochs,
                     f"{len(lr)} photo tiles at batch {batch}")
    log.info("general x%d: %s on %d photo tiles, %d steps, %s", scale, spec["arch"], len(lr), steps,
             precision_note(precision, dev))
    sampler = CropSampler(lr, hr, scale, spec["crop"], dev, seed=seed)
    ran = choose_precision(precision, dev)
    result = fit(model, sampler, steps, batch, spec["lr"], precision=ran)
    return model, {"arch": spec["arch"], "arch_kwargs": kwargs, "source": "scikit-image photos",
                   "photos": list(PHOTOS), "steps": steps, "epochs": epochs, "seed": seed,
                   **ran_as(precision, ran), **result}
