rule hull:
    input:
        rules.aggregate.output.rd_csv,
    output:
        csv=f"{RES}/hull.csv",
        md=result(
            f"{RES}/hull.md", "hull_md", "per-title ladders: what SR adds to the convex hull (Markdown, download)"
        ),
        plot=result(f"{RES}/hull.png", "hull_png", "per-title ladders"),
    log:
        f"{RES}/logs/hull.log",
    benchmark:
        f"{RES}/benchmarks/aggregate/hull.tsv"
    conda:
        "../envs/stdo.yaml"
    shell:
        "stdo hull --rd-path {input:q} --out-csv {output.csv:q} --out-md {output.md:q} --out-plot {output.plot:q}"
        " --log {log:q}"
