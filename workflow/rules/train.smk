rule train:
    input:
        unpack(train_inputs),
    output:
        model=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/chunk{{chunk}}.pt",
        meta=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/chunk{{chunk}}.json",
    log:
        f"{RES}/logs/train/{{video}}_x{{scale}}_{{method}}_{{rate}}_chunk{{chunk}}.log",
    benchmark:
        f"{RES}/benchmarks/train/{{video}}_x{{scale}}_{{method}}_{{rate}}_chunk{{chunk}}.tsv"
    priority: 10  # the longest jobs: start them before the evaluations of the references
    conda:
        "../envs/stdo.yaml"
    threads: config["threads"]["train"]
    params:
        cfg=train_params,
        init=lambda wc, input: input.get("init", ""),
    shell:
        f"stdo train --chunk {{wildcards.chunk}} {TRAIN_ARGS}"


rule train_joint:
    input:
        unpack(train_inputs),
    output:
        model=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/joint.pt",
        meta=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/joint.json",
    log:
        f"{RES}/logs/train/{{video}}_x{{scale}}_{{method}}_{{rate}}_joint.log",
    benchmark:
        f"{RES}/benchmarks/train/{{video}}_x{{scale}}_{{method}}_{{rate}}_joint.tsv"
    priority: 10
    conda:
        "../envs/stdo.yaml"
    threads: config["threads"]["train"]
    params:
        cfg=train_params,
        init=lambda wc, input: input.get("init", ""),
    shell:
        f"stdo train-joint {TRAIN_ARGS}"
