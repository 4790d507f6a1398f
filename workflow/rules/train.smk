def init_model(wc):
    """The checkpoint a method warm-starts from: the general model or a one-model method's (m0)."""
    init = stdo_config.method(config, wc.method)["init"]
    if init == "general":
        return general_model(wc)
    if init != "scratch":
        return f"{method_dir(wc, init)}/chunk0.pt"
    return None


def train_inputs(wc):
    inputs = {**frame_inputs(wc), "chunks": f"{method_dir(wc)}/chunks.parquet"}
    if init_model(wc):
        inputs["init"] = init_model(wc)
    return inputs


def train_params(wc):
    recipe = stdo_config.method(config, wc.method)
    return as_json({**recipe, "budget": config["budget"], "precision": config["precision"],
                    "scale": int(wc.scale), "seed": config["seed"], "device": config["device"]})


TRAIN_ARGS = (
    "--lr-path {input.lr:q} --hr-path {input.hr:q} --patches-path {input.patches:q}"
    " --chunks-path {input.chunks:q} --init-path {params.init:q} --out {output.model:q}"
    " --params {params.cfg:q} --threads {threads} --log {log:q}"
)


rule train:
    input:
        unpack(train_inputs),
    output:
        model=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/chunk{{chunk}}.pt",
        meta=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/chunk{{chunk}}.json",
    params:
        cfg=train_params,
        init=lambda wc, input: input.get("init", ""),
    threads: config["threads"]["train"]
    priority: 10  # the longest jobs: start them before the evaluations of the references
    log:
        f"{RES}/logs/train/{{video}}_x{{scale}}_{{method}}_{{rate}}_chunk{{chunk}}.log",
    benchmark:
        f"{RES}/benchmarks/train/{{video}}_x{{scale}}_{{method}}_{{rate}}_chunk{{chunk}}.tsv"
    shell:
        "{STDO} train --chunk {wildcards.chunk} " + TRAIN_ARGS


rule train_joint:
    input:
        unpack(train_inputs),
    output:
        model=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/joint.pt",
        meta=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/joint.json",
    params:
        cfg=train_params,
        init=lambda wc, input: input.get("init", ""),
    threads: config["threads"]["train"]
    priority: 10
    log:
        f"{RES}/logs/train/{{video}}_x{{scale}}_{{method}}_{{rate}}_joint.log",
    benchmark:
        f"{RES}/benchmarks/train/{{video}}_x{{scale}}_{{method}}_{{rate}}_joint.tsv"
    shell:
        "{STDO} train-joint " + TRAIN_ARGS
