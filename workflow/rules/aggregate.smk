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
    log:
        f"{RES}/logs/aggregate.log",
    shell:
        "{STDO} aggregate --metric-paths {input:q} --out-csv {output.csv:q} --out-md {output.md:q} --log {log:q}"
