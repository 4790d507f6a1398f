"""stdo: spatial-temporal data overfitting for video super-resolution (CVPR 2023), as a library
behind a Snakemake workflow. One module per stage: ingest, general, label, cluster, train,
evaluate, aggregate."""

__version__ = "0.1.0"
