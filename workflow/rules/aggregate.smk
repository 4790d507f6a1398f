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
    params:
        hr=lambda wc, input: f"--hr-metric-paths {' '.join(map(shlex.quote, input.hr))}" if input.hr else "",
    log:
        f"{RES}/logs/aggregate.log",
    benchmark:
        f"{RES}/benchmarks/aggregate/summary.tsv"
    shell:
        "{STDO} aggregate --metric-paths {input.metrics:q} {params.hr} --out-csv {output.csv:q}"
        " --out-md {output.md:q} --out-comparison {output.comparison:q} --out-plot {output.plot:q}"
        " --out-rd-csv {output.rd_csv:q} --out-rd-plot {output.rd_plot:q} --log {log:q}"
