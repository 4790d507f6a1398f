rule cluster:
    input:
        patches,
    output:
        parquet=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/chunks.parquet",
        json=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/chunks.json",
    log:
        f"{RES}/logs/cluster/{{video}}_x{{scale}}_{{method}}_{{rate}}.log",
    benchmark:
        f"{RES}/benchmarks/cluster/{{video}}_x{{scale}}_{{method}}_{{rate}}.tsv"
    wildcard_constraints:
        method="|".join(map(re.escape, METHODS)),
    conda:
        "../envs/stdo.yaml"
    params:
        cfg=lambda wc: as_json(cluster_params(wc)),
    shell:
        "stdo cluster --patches-path {input:q} --out-parquet {output.parquet:q} --out-json {output.json:q}"
        " --params {params.cfg:q} --log {log:q}"
