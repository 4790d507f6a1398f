#!/usr/bin/env bash
# Snakemake runs this inside the new rule environment (workflow/envs/stdo.yaml), from the directory it
# was started in. It installs the stdo library, whose console script every rule calls, from the
# checkout named by STDO_SOURCE, or from that directory when it is the checkout (git clone, then
# snakemake --sdm conda in it). Its dependencies are the environment's pins: --no-deps.
set -euo pipefail
source_dir=${STDO_SOURCE:-$PWD}
if ! grep -qs '^name = "stdo"' "$source_dir/pyproject.toml"; then
    echo "stdo.post-deploy.sh: $source_dir is not a stdo checkout (no pyproject.toml naming stdo);" \
        "set STDO_SOURCE to the folder you cloned stdo into" >&2
    exit 1
fi
python -m pip install --no-deps "$source_dir"
