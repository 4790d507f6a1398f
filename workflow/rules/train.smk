def train_inputs(wc):
    inputs = frame_inputs(wc)
    inputs["chunks"] = f"{scale_dir(wc)}/{wc.method}/chunks.parquet"
    if stdo_config.method(config, wc.method)["init"] == "general":
        inputs["general"] = GENERAL.format(scale=wc.scale)
    return inputs


rule train:
    input:
        unpack(train_inputs),
    output:
        model=f"{RES}/{{video}}/x{{scale}}/{{method}}/chunk{{chunk}}.pt",
        meta=f"{RES}/{{video}}/x{{scale}}/{{method}}/chunk{{chunk}}.json",
    params:
        cfg=lambda wc: as_json(
            {
                **stdo_config.method(config, wc.method),
                "scale": int(wc.scale),
                "seed": config["seed"],
                "device": config["device"],
            }
        ),
        general=lambda wc, input: input.get("general", ""),
    threads: config["threads"]["train"]
    priority: 10  # the longest jobs: start them before the evaluations of the references
    log:
        f"{RES}/logs/train/{{video}}_x{{scale}}_{{method}}_chunk{{chunk}}.log",
    benchmark:
        f"{RES}/benchmarks/train/{{video}}_x{{scale}}_{{method}}_chunk{{chunk}}.tsv"
    shell:
        "{STDO} train --lr-path {input.lr:q} --hr-path {input.hr:q} --patches-path {input.patches:q}"
        " --chunks-path {input.chunks:q} --chunk {wildcards.chunk} --general-path {params.general:q}"
        " --out {output.model:q} --params {params.cfg:q} --threads {threads} --log {log:q}"
