def general_checkpoint(wc):
    spec = stdo_config.general(config)
    return [spec["checkpoint"].format(scale=wc.scale)] if "checkpoint" in spec else []


rule general:
    input:
        general_checkpoint,
    output:
        model=GENERAL,
        meta=f"{RSC}/general/x{{scale}}.json",
    params:
        cfg=lambda wc: as_json(
            {
                "spec": stdo_config.general(config),
                "scale": int(wc.scale),
                "seed": config["seed"],
                "precision": config["precision"],
                "device": config["device"],
            }
        ),
    threads: config["threads"]["general"]
    priority: 30  # every later job waits on it
    log:
        f"{RES}/logs/general/x{{scale}}.log",
    benchmark:
        f"{RES}/benchmarks/general/x{{scale}}.tsv"
    shell:
        "{STDO} general --out {output.model:q} --params {params.cfg:q} --threads {threads} --log {log:q}"
