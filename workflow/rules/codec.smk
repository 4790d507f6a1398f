rule encode_lr:
    input:
        lr=lambda wc: frames(wc.video)[f"lr_x{wc.scale}"],
        meta=frames()["meta"],
    output:
        stream=f"{RES}/{{video}}/x{{scale}}/lr/{{rate}}/stream.mp4",
        frames=rebuildable(f"{RES}/{{video}}/x{{scale}}/lr/{{rate}}/frames.npy"),
        json=f"{RES}/{{video}}/x{{scale}}/lr/{{rate}}/codec.json",
    log:
        f"{RES}/logs/encode_lr/{{video}}_x{{scale}}_{{rate}}.log",
    benchmark:
        f"{RES}/benchmarks/encode_lr/{{video}}_x{{scale}}_{{rate}}.tsv"
    wildcard_constraints:
        rate=vocabulary.LOSSY_PATTERN,
    conda:
        "../envs/stdo.yaml"
    threads: config["threads"]["encode"]
    params:
        cfg=lambda wc: codec_params(wc, wc.rate),
        frames=lambda wc, output: f"--out-frames {shlex.quote(output.frames)}",
    shell:
        ENCODE_LR


use rule encode_lr as encode_lr_lossless with:
    output:
        stream=f"{RES}/{{video}}/x{{scale}}/lr/{LOSSLESS}/stream.mkv",
        json=f"{RES}/{{video}}/x{{scale}}/lr/{LOSSLESS}/codec.json",
    log:
        f"{RES}/logs/encode_lr/{{video}}_x{{scale}}_{LOSSLESS}.log",
    benchmark:
        f"{RES}/benchmarks/encode_lr/{{video}}_x{{scale}}_{LOSSLESS}.tsv"
    params:
        cfg=lambda wc: codec_params(wc, LOSSLESS),
        frames="",  # the decoded frames are the ingested ones (checked)


rule encode_hr:
    input:
        hr=lambda wc: frames(wc.video)["hr"],
        meta=frames()["meta"],
    output:
        stream=f"{RES}/{{video}}/hr/{{rate}}/stream.mp4",
        metrics=f"{RES}/{{video}}/hr/{{rate}}/metrics.json",
    log:
        f"{RES}/logs/encode_hr/{{video}}_{{rate}}.log",
    benchmark:
        f"{RES}/benchmarks/encode_hr/{{video}}_{{rate}}.tsv"
    conda:
        "../envs/stdo.yaml"
    threads: config["threads"]["encode"]
    params:
        cfg=lambda wc: codec_params(
            wc, wc.rate, **off_default(vmaf_subsample="vmaf_subsample"), info={"video": wc.video, "method": "hr_codec"}
        ),
    shell:
        "stdo encode-hr --hr-path {input.hr:q} --meta-path {input.meta:q} --out-stream {output.stream:q}"
        " --out-metrics {output.metrics:q} --params {params.cfg:q} --threads {threads} --log {log:q}"
