rule crossover:
    input:
        rules.aggregate.output.csv,
    output:
        csv=f"{RES}/crossover.csv",
        md=result(
            f"{RES}/crossover.md", "crossover_md", "crossover: chunks against one model by budget (Markdown, download)"
        ),
        plot=result(f"{RES}/crossover.png", "crossover_png", "crossover curves"),
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
