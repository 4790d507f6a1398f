rule aggregate:
    input:
        metrics=expand(
            f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/metrics.json",
            video=config["videos"],
            scale=SCALES,
            method=ROWS,
            rate=RATES,
        ),
        hr=expand(f"{RES}/{{video}}/hr/{{rate}}/metrics.json", video=config["videos"], rate=HR_RATES),
    output:
        csv=f"{RES}/summary.csv",
        md=f"{RES}/summary.md",
        comparison=report(f"{RES}/comparison.md", caption="../report/comparison_md.rst", category="Comparison",
                          labels={"result": "comparison table (Markdown, download)"}),
        plot=report(f"{RES}/psnr_vs_size.png", caption="../report/psnr_vs_size.rst", category="Comparison",
                    labels={"result": "PSNR vs delivered size"}),
        rd_csv=f"{RES}/rd.csv",
        rd_plot=report(f"{RES}/rd_curves.png", caption="../report/rd_curves.rst", category="Comparison",
                       labels={"result": "rate-distortion curves"}),
        categories_csv=f"{RES}/categories.csv",
        categories_md=report(f"{RES}/categories.md", caption="../report/categories_md.rst", category="Comparison",
                             labels={"result": "clips pooled per category (Markdown, download)"}),
    params:
        # the category is bookkeeping of this table only: changing it re-runs the aggregate, no clip's jobs
        cfg=lambda wc: as_json({"categories": {video: v["category"] for video, v in config["videos"].items()}}),
        hr=lambda wc, input: f"--hr-metric-paths {' '.join(map(shlex.quote, input.hr))}" if input.hr else "",
    log:
        f"{RES}/logs/aggregate.log",
    benchmark:
        f"{RES}/benchmarks/aggregate/summary.tsv"
    shell:
        "{STDO} aggregate --metric-paths {input.metrics:q} {params.hr} --out-csv {output.csv:q}"
        " --out-md {output.md:q} --out-comparison {output.comparison:q} --out-plot {output.plot:q}"
        " --out-rd-csv {output.rd_csv:q} --out-rd-plot {output.rd_plot:q}"
        " --out-categories-csv {output.categories_csv:q} --out-categories-md {output.categories_md:q}"
        " --params {params.cfg:q} --log {log:q}"
