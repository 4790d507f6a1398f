# A package as a DASH stream (stdo.delivery.segments), where codec.segment_seconds forces keyframes to cut it at.
rule segment:
    input:
        package=rules.package.output.manifest,
    output:
        index=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/stream/segments.json",  # the folder is written whole
        viewer=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/stream/viewer.json",
    log:
        f"{RES}/logs/segment/{{video}}_x{{scale}}_{{method}}_{{rate}}.log",
    benchmark:
        f"{RES}/benchmarks/segment/{{video}}_x{{scale}}_{{method}}_{{rate}}.tsv"
    wildcard_constraints:
        rate=vocabulary.LOSSY_PATTERN,
    conda:
        "../envs/stdo.yaml"
    params:
        package=lambda wc, input: Path(input.package).parent,
        out_dir=lambda wc, output: Path(output.index).parent,
        cfg=lambda wc: as_json({"seconds": SEGMENT_SECONDS}),
    shell:
        "stdo segment --package-dir {params.package:q} --out-dir {params.out_dir:q} --params {params.cfg:q} --log {log:q}"
