rule ingest:
    input:
        source=lambda wc: str(resolve_source(config["videos"][wc.video]["path"])),
    output:
        **{name: path if name == "meta" else rebuildable(path) for name, path in frames().items()},
    log:
        f"{RES}/logs/ingest/{{video}}.log",
    benchmark:
        f"{RES}/benchmarks/ingest/{{video}}.tsv"
    conda:
        "../envs/stdo.yaml"
    threads: config["threads"]["ingest"]
    params:
        cfg=lambda wc: as_json(
            {
                "scales": SCALES,
                "grids": {s: config["grids"][f"x{s}"] for s in SCALES},
                "max_frames": config["videos"][wc.video]["max_frames"],
                "allow_truncated": config["videos"][wc.video]["allow_truncated"],
            }
        ),
        out_dir=lambda wc, output: Path(output.hr).parent,
        # not used by the command: a change of the source's content re-runs this video's jobs
        source=lambda wc: fingerprint(resolve_source(config["videos"][wc.video]["path"])),
    shell:
        "stdo ingest --source {input.source:q} --out-dir {params.out_dir:q}"
        " --params {params.cfg:q} --threads {threads} --log {log:q}"
