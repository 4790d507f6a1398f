# Files for `snakemake --report report.html`: the figures of each (video, scale) and the tables
# (comparison, benchmarks) as HTML pages the report shows inline. Captions: workflow/report/*.rst.
REPORT = f"{RES}/report"
# Category names are single words: the report's own links to a category (workflow.rst) break on spaces.
FIGURES = "Figures"  # one subcategory per (video, scale)


def method_models(wc):
    return [f"{scale_dir(wc)}/{method}/{name}" for method in METHODS
            for name in stdo_config.model_files(config, method)]


rule report_figures:
    input:
        unpack(frame_inputs),
        general=GENERAL,
        metrics=lambda wc: [f"{scale_dir(wc)}/{method}/metrics.json" for method in REFERENCES + METHODS],
        chunks=lambda wc: [f"{scale_dir(wc)}/{method}/chunks.parquet" for method in METHODS],
        models=method_models,
    output:
        curves=report(f"{REPORT}/{{video}}_x{{scale}}/psnr_per_frame.png", caption="../report/psnr_per_frame.rst",
                      category=FIGURES, subcategory="{video} x{scale}", labels={"figure": "PSNR per frame"}),
        chunk_map=report(f"{REPORT}/{{video}}_x{{scale}}/chunk_map.png", caption="../report/chunk_map.rst",
                         category=FIGURES, subcategory="{video} x{scale}", labels={"figure": "chunk map"}),
        crops=report(f"{REPORT}/{{video}}_x{{scale}}/hardest_patch.png", caption="../report/hardest_patch.rst",
                     category=FIGURES, subcategory="{video} x{scale}", labels={"figure": "hardest patch"}),
    params:
        cfg=lambda wc: as_json({"scale": int(wc.scale), "video": wc.video, "device": config["device"],
                                "batch_size": config["batch_size"]}),
    log:
        f"{RES}/logs/report/{{video}}_x{{scale}}.log",
    benchmark:
        f"{RES}/benchmarks/report/{{video}}_x{{scale}}.tsv"
    shell:
        "{STDO} report --lr-path {input.lr:q} --hr-path {input.hr:q} --patches-path {input.patches:q}"
        " --general-path {input.general:q} --metric-paths {input.metrics:q} --chunk-paths {input.chunks:q}"
        " --model-paths {input.models:q} --out-curves {output.curves:q} --out-chunk-map {output.chunk_map:q}"
        " --out-crops {output.crops:q} --params {params.cfg:q} --threads {threads} --log {log:q}"


def train_benchmark(wc, method, name):
    """The benchmark file of the training job that writes checkpoint `name` (chunk<i>.pt or joint.pt)."""
    if name.startswith("chunk"):
        return rules.train.benchmark.format(**wc, method=method, chunk=name.removeprefix("chunk").removesuffix(".pt"))
    return rules.train_joint.benchmark.format(**wc, method=method)


def benchmark_files():
    """Every job's benchmark file, in pipeline order (but the report tables' own, written after)."""
    files = expand(rules.ingest.benchmark, video=config["videos"]) + expand(rules.general.benchmark, scale=SCALES)
    for video in config["videos"]:
        for scale in SCALES:
            wc = {"video": video, "scale": scale}
            files += expand(rules.label.benchmark, **wc) + expand(rules.cluster.benchmark, **wc, method=METHODS)
            files += [train_benchmark(wc, m, name) for m in METHODS for name in stdo_config.model_files(config, m)]
            files += expand(rules.evaluate_reference.benchmark, **wc, reference=REFERENCES)
            files += expand(rules.evaluate.benchmark, **wc, method=METHODS)
            files += expand(rules.report_figures.benchmark, **wc)
    return files + [rules.aggregate.benchmark]


rule report_tables:
    input:
        comparison=rules.aggregate.output.comparison,
        summary=rules.aggregate.output.md,
        benchmarks=benchmark_files(),
    output:
        comparison=report(f"{REPORT}/comparison.html", caption="../report/comparison.rst",
                          category="Comparison", labels={"result": "comparison table"}),
        benchmarks=report(f"{REPORT}/benchmarks.html", caption="../report/benchmarks.rst",
                          category="Benchmarks", labels={"result": "seconds and peak memory per job"}),
        benchmarks_csv=f"{REPORT}/benchmarks.csv",
    log:
        f"{RES}/logs/report/tables.log",
    benchmark:
        f"{RES}/benchmarks/report/tables.tsv"  # not in its own table: it is written after
    shell:
        "{STDO} report-tables --comparison-path {input.comparison:q} --summary-path {input.summary:q}"
        " --benchmark-paths {input.benchmarks:q} --out-comparison {output.comparison:q}"
        " --out-benchmarks {output.benchmarks:q} --out-benchmarks-csv {output.benchmarks_csv:q} --log {log:q}"
