# Shared by every results folder that uses this resources folder: its files are named by a hash of the
# recipe (general_job()), so its log and benchmark live beside it, not under one results folder.
rule general:
    input:
        general_checkpoint,
    output:
        model=f"{RSC}/general/x{{scale}}-{{recipe}}.pt",
        meta=f"{RSC}/general/x{{scale}}-{{recipe}}.json",
    log:
        f"{RSC}/logs/general/x{{scale}}-{{recipe}}.log",
    benchmark:
        f"{RSC}/benchmarks/general/x{{scale}}-{{recipe}}.tsv"
    priority: 30  # every later job waits on it
    conda:
        "../envs/stdo.yaml"
    threads: config["threads"]["general"]
    params:
        cfg=lambda wc: as_json(stdo_config.general_recipe(config, int(wc.scale))),
    shell:
        "stdo general --out {output.model:q} --params {params.cfg:q} --threads {threads} --log {log:q}"
