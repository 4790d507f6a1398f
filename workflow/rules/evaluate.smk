rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        metrics=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/metrics.json",
    log:
        f"{RES}/logs/evaluate/{{video}}_x{{scale}}_{{method}}_{{rate}}.log",
    benchmark:
        f"{RES}/benchmarks/evaluate/{{video}}_x{{scale}}_{{method}}_{{rate}}.tsv"
    conda:
        "../envs/stdo.yaml"
    threads: config["threads"]["evaluate"]
    params:
        cfg=lambda wc: as_json(
            with_bases(
                {
                    "device": config["device"],
                    "info": method_info(wc),
                    "papers_metrics": wc.rate == train_rate(wc.rate),
                    **off_default(vmaf_subsample="vmaf_subsample"),
                }
            )
        ),
        package=lambda wc, input: Path(input.package).parent,
        chunks=lambda wc, input: f"--chunks-path {shlex.quote(input.chunks[0])}" if input.chunks else "",
        metas=lambda wc, input: f"--model-meta-paths {' '.join(map(shlex.quote, input.metas))}" if input.metas else "",
    shell:
        "stdo evaluate --package-path {params.package:q} --hr-path {input.hr:q} --patches-path {input.patches:q}"
        " {params.chunks} {params.metas} --out {output:q} --params {params.cfg:q} --threads {threads} --log {log:q}"
