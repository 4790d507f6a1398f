rule aggregate:
    input:
        expand(
            f"{RES}/{{video}}/x{{scale}}/{{method}}/metrics.json",
            video=config["videos"],
            scale=SCALES,
            method=REFERENCES + METHODS,
        ),
    output:
        csv=f"{RES}/summary.csv",
        md=f"{RES}/summary.md",
        comparison=report(f"{RES}/comparison.md", caption="../report/comparison_md.rst", category="Comparison",
                          labels={"result": "comparison table (Markdown, download)"}),
        plot=report(f"{RES}/psnr_vs_size.png", caption="../report/psnr_vs_size.rst", category="Comparison",
                    labels={"result": "PSNR vs delivered size"}),
    log:
        f"{RES}/logs/aggregate.log",
    benchmark:
        f"{RES}/benchmarks/aggregate/summary.tsv"
    shell:
        "{STDO} aggregate --metric-paths {input:q} --out-csv {output.csv:q} --out-md {output.md:q}"
        " --out-comparison {output.comparison:q} --out-plot {output.plot:q} --log {log:q}"
