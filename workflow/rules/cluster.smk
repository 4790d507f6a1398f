def cluster_params(wc):
    method = config["methods"][wc.method]
    params = {"split": method["split"], "k": method["k"]}
    if method["split"] == "kmeans":
        params["seed"] = config["seed"]
    return params


rule cluster:
    input:
        f"{RES}/{{video}}/x{{scale}}/patches.parquet",
    output:
        parquet=f"{RES}/{{video}}/x{{scale}}/{{method}}/chunks.parquet",
        json=f"{RES}/{{video}}/x{{scale}}/{{method}}/chunks.json",
    params:
        cfg=lambda wc: as_json(cluster_params(wc)),
    log:
        f"{RES}/logs/cluster/{{video}}_x{{scale}}_{{method}}.log",
    benchmark:
        f"{RES}/benchmarks/cluster/{{video}}_x{{scale}}_{{method}}.tsv"
    shell:
        "{STDO} cluster --patches-path {input:q} --out-parquet {output.parquet:q} --out-json {output.json:q}"
        " --params {params.cfg:q} --log {log:q}"
