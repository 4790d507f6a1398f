rule label:
    input:
        lr=lr_frames,
        hr=lambda wc: frames(wc.video)["hr"],
        general=general_model,
    output:
        f"{RES}/{{video}}/x{{scale}}/lr/{{rate}}/patches.parquet",
    log:
        f"{RES}/logs/label/{{video}}_x{{scale}}_{{rate}}.log",
    benchmark:
        f"{RES}/benchmarks/label/{{video}}_x{{scale}}_{{rate}}.tsv"
    priority: 20
    conda:
        "../envs/stdo.yaml"
    threads: config["threads"]["label"]
    resources:
        infer_batch=config["batch_size"],  # not a param: the batch changes no result, so no rerun
    params:
        cfg=lambda wc: as_json(
            {
                "scale": int(wc.scale),
                "grid": config["grids"][f"x{wc.scale}"],
                "eval_every": config["eval_every"],
                "device": config["device"],
                "precision": config["label_precision"],
                **off_default(by="label_by"),
            }
        ),
    shell:
        "stdo label --lr-path {input.lr:q} --hr-path {input.hr:q} --general-path {input.general:q}"
        " --out {output:q} --params {params.cfg:q} --threads {threads} --batch-size {resources.infer_batch} --log {log:q}"
