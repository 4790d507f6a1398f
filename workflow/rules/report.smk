rule report_figures:
    input:
        unpack(figure_inputs),
        general=general_model,
        metrics=lambda wc: per_row(rules.evaluate.output.metrics, wc, LOSSLESS),
        chunks=lambda wc: [f"{figure_dir(wc, method)}/chunks.parquet" for method in METHODS],
        models=method_models,
    output:
        curves=figure(f"{REPORT}/{{video}}_x{{scale}}/psnr_per_frame.png", "psnr_per_frame", "PSNR per frame"),
        chunk_map=figure(f"{REPORT}/{{video}}_x{{scale}}/chunk_map.png", "chunk_map", "chunk map"),
        crops=figure(f"{REPORT}/{{video}}_x{{scale}}/hardest_patch.png", "hardest_patch", "hardest patch"),
    log:
        f"{RES}/logs/report/{{video}}_x{{scale}}.log",
    benchmark:
        f"{RES}/benchmarks/report/{{video}}_x{{scale}}.tsv"
    conda:
        "../envs/stdo.yaml"
    resources:
        infer_batch=config["batch_size"],
    params:
        cfg=lambda wc: as_json({"scale": int(wc.scale), "video": wc.video, "device": config["device"]}),
    shell:
        "stdo report --lr-path {input.lr:q} --hr-path {input.hr:q} --patches-path {input.patches:q}"
        " --general-path {input.general:q} --metric-paths {input.metrics:q} --chunk-paths {input.chunks:q}"
        " --model-paths {input.models:q} --out-curves {output.curves:q} --out-chunk-map {output.chunk_map:q}"
        " --out-crops {output.crops:q} --params {params.cfg:q} --threads {threads} --batch-size {resources.infer_batch}"
        " --log {log:q}"


rule side_by_side:
    input:
        metrics=lambda wc: per_row(rules.evaluate.output.metrics, wc, SHOWCASE),
        packages=lambda wc: per_row(rules.package.output.manifest, wc, SHOWCASE),
        codec=lambda wc: expand(rules.encode_hr.output.metrics, video=wc.video, rate=HR_RATES),
        hr=lambda wc: frames(wc.video)["hr"],
        base=resident_base,
    output:
        video=figure(f"{REPORT}/{{video}}_x{{scale}}/side_by_side.mp4", "side_by_side", "side by side (MP4)"),
        page=figure(f"{REPORT}/{{video}}_x{{scale}}/side_by_side.html", "side_by_side", "side by side"),
    log:
        f"{RES}/logs/report/{{video}}_x{{scale}}_side_by_side.log",
    benchmark:
        f"{RES}/benchmarks/report/{{video}}_x{{scale}}_side_by_side.tsv"
    conda:
        "../envs/stdo.yaml"
    threads: config["threads"]["evaluate"]
    params:
        cfg=lambda wc: as_json(
            with_bases(
                {"video": wc.video, "scale": int(wc.scale), "rate": SHOWCASE, "seconds": config["showcase"]["seconds"]}
            )
        ),
        codec=lambda wc, input: f"--hr-metric-paths {' '.join(map(shlex.quote, input.codec))}" if input.codec else "",
    shell:
        "stdo side-by-side --metric-paths {input.metrics:q} {params.codec} --hr-path {input.hr:q} --out-video {output.video:q}"
        " --out-html {output.page:q} --params {params.cfg:q} --threads {threads} --log {log:q}"


# The comparison page is made from the aggregate's own inputs, as its Markdown tables are: the same DataFrames.
rule report_tables:
    input:
        metrics=rules.aggregate.input.metrics,
        hr=rules.aggregate.input.hr,
        benchmarks=benchmark_files(),
    output:
        comparison=result(f"{REPORT}/comparison.html", "comparison", "comparison table"),
        benchmarks=result(f"{REPORT}/benchmarks.html", "benchmarks", "seconds and peak memory per job", "Benchmarks"),
        benchmarks_csv=f"{REPORT}/benchmarks.csv",
    log:
        f"{RES}/logs/report/tables.log",
    benchmark:
        f"{RES}/benchmarks/report/tables.tsv"  # not in its own table: it is written after
    run:
        stdo_run(
            "report-tables",
            metric_paths=input.metrics,
            hr_metric_paths=input.hr,
            benchmark_paths=input.benchmarks,
            out_comparison=output.comparison,
            out_benchmarks=output.benchmarks,
            out_benchmarks_csv=output.benchmarks_csv,
            log=log[0],
        )
