# The general model as a client installs it with the player (package.base: resident): written beside
# its description under its content's name, <sha256>.onnx, which packages name instead of shipping it.
rule base:
    input:
        rules.general.output.model,
    output:
        entry=f"{BASES}/x{{scale}}-{{recipe}}.json",
    log:
        f"{RES}/logs/base/x{{scale}}-{{recipe}}.log",
    benchmark:
        f"{RES}/benchmarks/base/x{{scale}}-{{recipe}}.tsv"
    conda:
        "../envs/stdo.yaml"
    params:
        cfg=lambda wc: as_json(stdo_config.base_params(config)),
    shell:
        "stdo base --general-path {input:q} --out {output.entry:q} --params {params.cfg:q} --log {log:q}"


rule package:
    input:
        unpack(package_inputs),
    output:
        manifest=f"{RES}/{{video}}/x{{scale}}/{{method}}/{{rate}}/package/manifest.json",  # the folder is written whole
    log:
        f"{RES}/logs/package/{{video}}_x{{scale}}_{{method}}_{{rate}}.log",
    benchmark:
        f"{RES}/benchmarks/package/{{video}}_x{{scale}}_{{method}}_{{rate}}.tsv"
    conda:
        "../envs/stdo.yaml"
    params:
        cfg=lambda wc: as_json(package_settings(wc)),
        out_dir=lambda wc, output: Path(output.manifest).parent,
        models=lambda wc, input: f"--model-paths {' '.join(map(shlex.quote, input.models))}" if input.models else "",
        chunks=lambda wc, input: f"--chunks-path {shlex.quote(input.chunks[0])}" if input.chunks else "",
        selection=lambda wc, input: (
            (f"--selection-path {shlex.quote(input.selection[0])}" f" --general-path {shlex.quote(input.general[0])}")
            if input.selection
            else ""
        ),
    shell:
        "stdo package --stream-path {input.stream:q} --codec-path {input.codec:q} --meta-path {input.meta:q}"
        " --patches-path {input.patches:q} --out-dir {params.out_dir:q} {params.models} {params.chunks} {params.selection}"
        " --params {params.cfg:q} --log {log:q}"
