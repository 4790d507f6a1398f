rule select:
    input:
        unpack(frame_inputs),
        chunks=lambda wc: rules.cluster.output.parquet.format(**wc),
        models=checkpoints,
        general=lambda wc: list(select_general(wc).values()),
    output:
        f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/selection.json",
    log:
        f"{RES}/logs/select/{{video}}_x{{scale}}_{{method}}_{{rate}}.log",
    benchmark:
        f"{RES}/benchmarks/select/{{video}}_x{{scale}}_{{method}}_{{rate}}.tsv"
    conda:
        "../envs/stdo.yaml"
    threads: config["threads"]["evaluate"]
    resources:
        infer_batch=config["batch_size"],
    params:
        # the general model's path in the params, not on the command line: finished runs keep their command
        cfg=lambda wc: as_json({"scale": int(wc.scale), "device": config["device"], **select_general(wc)}),
    shell:
        "stdo select --lr-path {input.lr:q} --hr-path {input.hr:q} --patches-path {input.patches:q}"
        " --chunks-path {input.chunks:q} --model-paths {input.models:q} --out {output:q} --params {params.cfg:q}"
        " --threads {threads} --batch-size {resources.infer_batch} --log {log:q}"
