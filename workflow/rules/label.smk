rule label:
    input:
        lr=lr_frames,
        hr=lambda wc: frames(wc.video)["hr"],
        general=GENERAL,
    output:
        f"{RES}/{{video}}/x{{scale}}/lr/{{rate}}/patches.parquet",
    params:
        cfg=lambda wc: as_json(
            {
                "scale": int(wc.scale),
                "grid": config["grids"][f"x{wc.scale}"],
                "eval_every": config["eval_every"],
                "device": config["device"],
                "batch_size": config["batch_size"],
                "precision": config["label_precision"],
            }
        ),
    threads: config["threads"]["label"]
    priority: 20
    log:
        f"{RES}/logs/label/{{video}}_x{{scale}}_{{rate}}.log",
    benchmark:
        f"{RES}/benchmarks/label/{{video}}_x{{scale}}_{{rate}}.tsv"
    shell:
        "{STDO} label --lr-path {input.lr:q} --hr-path {input.hr:q} --general-path {input.general:q}"
        " --out {output:q} --params {params.cfg:q} --threads {threads} --log {log:q}"
