"""The delivery side: what a client needs to turn a package into SR video.

Nothing here imports Snakemake or the workflow's stage modules; a client reads only the package's
files (manifest, LR bitstream, model files, chunk map)."""
