"""Workflow configuration, one concern per module: `load` (schema validation, defaults, command-line coercion),
`sweeps`, `datasets` (the clips of a dataset folder), `checks` (what a schema cannot express) and `params` (the
exact slice of configuration each rule depends on: its Snakemake `params`). Torch- and PyAV-free: every Snakemake
process parses the workflow with it."""
from .datasets import NAME_PATTERN, VIDEO_SUFFIXES, clip_category, clip_name, dataset_clips
from .load import load
from .params import (
                     GENERAL_DEFAULTS,
                     LATER_KEYS,
                     MODEL_STORAGE,
                     base_params,
                     codec,
                     decoded_start,
                     general,
                     general_hash,
                     general_recipe,
                     hr_rates,
                     later_keys,
                     lr_rates,
                     method,
                     model_files,
                     off_default,
                     package_params,
                     resident_base,
                     showcase_rate,
                     train_params,
                     train_rate,
                     warm_start,
)
from .sweeps import sweep_baseline, sweep_cells

__all__ = ["GENERAL_DEFAULTS", "LATER_KEYS", "MODEL_STORAGE", "NAME_PATTERN", "VIDEO_SUFFIXES", "base_params",
           "clip_category", "clip_name", "codec", "dataset_clips", "decoded_start", "general", "general_hash",
           "general_recipe", "hr_rates", "later_keys", "load", "lr_rates", "method", "model_files", "off_default",
           "package_params", "resident_base", "showcase_rate", "sweep_baseline", "sweep_cells", "train_params",
           "train_rate", "warm_start"]
