def evaluate_params(wc, extra):
    return as_json(
        {
            "scale": int(wc.scale),
            "device": config["device"],
            "batch_size": config["batch_size"],
            "info": {"video": wc.video, **extra},
        }
    )


def chunk_models(wc):
    return [f"{method_dir(wc)}/{name}" for name in stdo_config.model_files(config, wc.method)]


rule evaluate:
    input:
        unpack(frame_inputs),
        chunks=f"{RES}/{{video}}/x{{scale}}/{{method}}/chunks.parquet",
        models=chunk_models,
    output:
        f"{RES}/{{video}}/x{{scale}}/{{method}}/metrics.json",
    params:
        cfg=lambda wc: evaluate_params(
            wc, {"method": wc.method, "budget": config["budget"],
                 **{k: stdo_config.method(config, wc.method)[k] for k in ("split", "mode", "steps", "init")}}
        ),
    threads: config["threads"]["evaluate"]
    log:
        f"{RES}/logs/evaluate/{{video}}_x{{scale}}_{{method}}.log",
    benchmark:
        f"{RES}/benchmarks/evaluate/{{video}}_x{{scale}}_{{method}}.tsv"
    shell:
        "{STDO} evaluate --lr-path {input.lr:q} --hr-path {input.hr:q} --patches-path {input.patches:q}"
        " --chunks-path {input.chunks:q} --model-paths {input.models:q} --out {output:q}"
        " --params {params.cfg:q} --threads {threads} --log {log:q}"


def reference_model(wc):
    return [GENERAL.format(scale=wc.scale)] if wc.reference == "general" else []


def reference_info(wc):
    spec = stdo_config.general(config)
    steps = spec.get("steps") if wc.reference == "general" and isinstance(spec, dict) else None
    return {"method": wc.reference, "split": "-", "mode": "-", "steps": steps, "init": "-"}


rule evaluate_reference:
    input:
        unpack(frame_inputs),
        models=reference_model,
    output:
        f"{RES}/{{video}}/x{{scale}}/{{reference}}/metrics.json",
    params:
        cfg=lambda wc: evaluate_params(wc, reference_info(wc)),
        models=lambda wc, input: input.models or ["bicubic"],
    threads: config["threads"]["evaluate"]
    log:
        f"{RES}/logs/evaluate/{{video}}_x{{scale}}_{{reference}}.log",
    benchmark:
        f"{RES}/benchmarks/evaluate/{{video}}_x{{scale}}_{{reference}}.tsv"
    shell:
        "{STDO} evaluate --lr-path {input.lr:q} --hr-path {input.hr:q} --patches-path {input.patches:q}"
        " --model-paths {params.models:q} --out {output:q} --params {params.cfg:q} --threads {threads} --log {log:q}"
