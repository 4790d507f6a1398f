def trained_dir(wc):
    """Where the models of a package at this rate point were trained."""
    return method_dir(wc, rate=train_rate(wc.rate))


def package_models(wc):
    """Checkpoints a package ships: none for bicubic, the general model, or the method's models."""
    if wc.method == "bicubic":
        return []
    if wc.method == "general":
        return [general_model(wc)]
    return [f"{trained_dir(wc)}/{name}" for name in stdo_config.model_files(config, wc.method)]


def method_chunks(wc):
    return [f"{trained_dir(wc)}/chunks.parquet"] if wc.method in METHODS else []


def package_inputs(wc):
    return {"stream": lr_stream(wc), "codec": f"{lr_dir(wc)}/codec.json", "meta": frames(wc.video)["meta"],
            "patches": patches(wc, train_rate(wc.rate)), "models": package_models(wc), "chunks": method_chunks(wc)}


def method_info(wc):
    """What the tables say about a row besides its scores: how its models were made."""
    if wc.method in REFERENCES:
        general = stdo_config.general(config)
        steps = general.get("steps") if wc.method == "general" and isinstance(general, dict) else None
        recipe = {"split": "-", "mode": "-", "steps": steps, "init": "-"}
    else:
        recipe = {k: stdo_config.method(config, wc.method)[k] for k in ("split", "mode", "steps", "init")}
    return {"video": wc.video, "method": wc.method, "rate": wc.rate, "train_rate": train_rate(wc.rate),
            "budget": config["budget"], **recipe}


rule package:
    input:
        unpack(package_inputs),
    output:
        f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/package/manifest.json",  # the folder is written whole
    params:
        cfg=lambda wc: as_json({"scale": int(wc.scale), "playback": config["package"], "info": method_info(wc)}),
        out_dir=lambda wc, output: Path(output[0]).parent,
        models=lambda wc, input: f"--model-paths {' '.join(map(shlex.quote, input.models))}" if input.models else "",
        chunks=lambda wc, input: f"--chunks-path {shlex.quote(input.chunks[0])}" if input.chunks else "",
    log:
        f"{RES}/logs/package/{{video}}_x{{scale}}_{{method}}_{{rate}}.log",
    benchmark:
        f"{RES}/benchmarks/package/{{video}}_x{{scale}}_{{method}}_{{rate}}.tsv"
    shell:
        "{STDO} package --stream-path {input.stream:q} --codec-path {input.codec:q} --meta-path {input.meta:q}"
        " --patches-path {input.patches:q} --out-dir {params.out_dir:q} {params.models} {params.chunks}"
        " --params {params.cfg:q} --log {log:q}"


def evaluate_inputs(wc):
    return {"package": f"{method_dir(wc)}/package/manifest.json", "hr": frames(wc.video)["hr"],
            "patches": patches(wc, train_rate(wc.rate)), "chunks": method_chunks(wc),
            "metas": [str(Path(p).with_suffix(".json")) for p in package_models(wc)]}


rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/metrics.json",
    params:
        cfg=lambda wc: as_json({"device": config["device"], "info": method_info(wc),
                                "papers_metrics": wc.rate == train_rate(wc.rate)}),
        package=lambda wc, input: Path(input.package).parent,
        chunks=lambda wc, input: f"--chunks-path {shlex.quote(input.chunks[0])}" if input.chunks else "",
        metas=lambda wc, input: f"--model-meta-paths {' '.join(map(shlex.quote, input.metas))}" if input.metas else "",
    threads: config["threads"]["evaluate"]
    log:
        f"{RES}/logs/evaluate/{{video}}_x{{scale}}_{{method}}_{{rate}}.log",
    benchmark:
        f"{RES}/benchmarks/evaluate/{{video}}_x{{scale}}_{{method}}_{{rate}}.tsv"
    shell:
        "{STDO} evaluate --package-path {params.package:q} --hr-path {input.hr:q} --patches-path {input.patches:q}"
        " {params.chunks} {params.metas} --out {output:q} --params {params.cfg:q} --threads {threads} --log {log:q}"
