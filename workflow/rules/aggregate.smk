rule aggregate:
    input:
        metrics=expand(rules.evaluate.output.metrics, video=config["videos"], scale=SCALES, method=ROWS, rate=RATES),
        hr=expand(rules.encode_hr.output.metrics, video=config["videos"], rate=HR_RATES),
    output:
        csv=f"{RES}/summary.csv",
        md=f"{RES}/summary.md",
        comparison=report(
            f"{RES}/comparison.md",
            caption="../report/comparison_md.rst",
            category="Comparison",
            labels={"result": "comparison table (Markdown, download)"},
        ),
        plot=report(
            f"{RES}/psnr_vs_size.png",
            caption="../report/psnr_vs_size.rst",
            category="Comparison",
            labels={"result": "PSNR vs delivered size"},
        ),
        rd_csv=f"{RES}/rd.csv",
        rd_plot=report(
            f"{RES}/rd_curves.png",
            caption="../report/rd_curves.rst",
            category="Comparison",
            labels={"result": "rate-distortion curves"},
        ),
        categories_csv=f"{RES}/categories.csv",
        categories_md=report(
            f"{RES}/categories.md",
            caption="../report/categories_md.rst",
            category="Comparison",
            labels={"result": "clips pooled per category (Markdown, download)"},
        ),
    log:
        f"{RES}/logs/aggregate.log",
    benchmark:
        f"{RES}/benchmarks/aggregate/summary.tsv"
    params:
        # the category is bookkeeping of this table only: changing it re-runs the aggregate, no clip's jobs
        cfg=lambda wc: as_json({"categories": {video: v["category"] for video, v in config["videos"].items()}}),
    run:
        stdo_run(
            "aggregate",
            metric_paths=input.metrics,
            hr_metric_paths=input.hr,
            out_csv=output.csv,
            out_md=output.md,
            out_comparison=output.comparison,
            out_plot=output.plot,
            out_rd_csv=output.rd_csv,
            out_rd_plot=output.rd_plot,
            out_categories_csv=output.categories_csv,
            out_categories_md=output.categories_md,
            params=params.cfg,
            log=log[0],
        )


rule crossover:
    input:
        rules.aggregate.output.csv,
    output:
        csv=f"{RES}/crossover.csv",
        md=report(
            f"{RES}/crossover.md",
            caption="../report/crossover_md.rst",
            category="Comparison",
            labels={"result": "crossover: chunks against one model by budget (Markdown, download)"},
        ),
        plot=report(
            f"{RES}/crossover.png",
            caption="../report/crossover_png.rst",
            category="Comparison",
            labels={"result": "crossover curves"},
        ),
    log:
        f"{RES}/logs/crossover.log",
    benchmark:
        f"{RES}/benchmarks/aggregate/crossover.tsv"
    conda:
        "../envs/stdo.yaml"
    params:
        cfg=lambda wc: as_json(
            {"cells": stdo_config.sweep_cells(config), "baseline": stdo_config.sweep_baseline(config)}
        ),
    shell:
        "stdo crossover --summary-path {input:q} --out-csv {output.csv:q} --out-md {output.md:q}"
        " --out-plot {output.plot:q} --params {params.cfg:q} --log {log:q}"


rule curves:
    input:
        trained_sidecars,
    output:
        csv=f"{RES}/curves.csv",
        plot=report(
            f"{RES}/curves.png",
            caption="../report/curves_png.rst",
            category="Comparison",
            labels={"result": "learning curves"},
        ),
    log:
        f"{RES}/logs/curves.log",
    benchmark:
        f"{RES}/benchmarks/aggregate/curves.tsv"
    run:
        stdo_run(
            "curves",
            sidecar_paths=input,
            labels=[label for _, label in trained_models()],
            out_csv=output.csv,
            out_plot=output.plot,
            log=log[0],
        )
