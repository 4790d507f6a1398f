import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from stdo import config as stdo_config, vocabulary
from stdo.errors import InputError
from stdo.sources import fingerprint, frame_files, resolve_source

try:
    config.update(stdo_config.load(config, workflow.source_path("../schemas/config.schema.yaml")))
except InputError as err:
    sys.exit(f"stdo: {err}")

RES = config["results_dir"]
RSC = config["resources_dir"]
SCALES = config["scales"]
METHODS = list(config["methods"])
REFERENCES = list(vocabulary.REFERENCE_METHODS)
ROWS = REFERENCES + METHODS  # every row of the tables: the references, then the methods
RATES = stdo_config.lr_rates(config)  # rate points of the LR stream, "lossless" first
HR_RATES = stdo_config.hr_rates(config)  # rate points of the HR codec baseline
LOSSLESS = vocabulary.LOSSLESS
LOSSY = RATES != [LOSSLESS]  # a codec in the loop: rate-distortion tables and per-title ladders
SEGMENT_SECONDS = (stdo_config.codec(config) or {}).get("segment_seconds")  # packages also as DASH streams


def train_rate(rate):
    """The rate point whose decoded LR frames trained the models a package at `rate` ships."""
    return stdo_config.train_rate(config, rate)


TRAIN_RATES = list(dict.fromkeys(train_rate(r) for r in RATES))


wildcard_constraints:
    video="|".join(map(re.escape, config["videos"])),
    scale="[234]",
    method="|".join(map(re.escape, ROWS)),
    rate=vocabulary.RATE_PATTERN,
    chunk="[0-9]+",
    recipe="[0-9a-f]{10}",


def stdo_run(stage, **args):
    """`python -m stdo <stage> --<arg> ...` with its arguments as a list, through no shell: the tables
    over a whole dataset list thousands of paths, more than one shell command may hold (128 KiB on
    Linux). A list argument left empty is left out."""
    argv = [sys.executable, "-m", "stdo", stage]
    for name, value in args.items():
        values = [value] if isinstance(value, (str, Path)) else list(value)
        if values:
            argv += [f"--{name.replace('_', '-')}", *map(str, values)]
    subprocess.run(argv, check=True)


def off_default(**params):
    """{param: config[key]} for each `param=key` of the top-level stdo.config.LATER_KEYS whose value is not the one
    runs had before the key existed (stdo.config.off_default)."""
    changed = stdo_config.off_default(config, stdo_config.later_keys())
    return {param: changed[key] for param, key in params.items() if key in changed}


def as_json(obj):
    """A rule's params as one JSON string: stable, so Snakemake's params trigger sees real changes only."""
    return json.dumps(obj, sort_keys=True)


def frames(video="{video}"):
    return {k: str(v) for k, v in frame_files(f"{RES}/{video}/frames", SCALES).items()}


def rebuildable(path):
    """A frame array any later run can rebuild: a temp() file unless `keep_frames`."""
    return path if config["keep_frames"] else temp(path)


def scale_dir(wc):
    return f"{RES}/{wc.video}/x{wc.scale}"


def lr_dir(wc, rate=None):
    return f"{scale_dir(wc)}/lr/{rate or wc.rate}"


def lr_stream(wc, rate=None):
    rate = rate or wc.rate
    return f"{lr_dir(wc, rate)}/stream.{'mkv' if rate == LOSSLESS else 'mp4'}"


def lr_frames(wc, rate=None):
    """The LR frames a client decodes at a rate point (lossless: the ingested frames themselves)."""
    rate = rate or wc.rate
    return frames(wc.video)[f"lr_x{wc.scale}"] if rate == LOSSLESS else f"{lr_dir(wc, rate)}/frames.npy"


def patches(wc, rate=None):
    return f"{lr_dir(wc, rate)}/patches.parquet"


def frame_inputs(wc):
    """LR frames, HR frames and patch table of the rate point in the wildcards."""
    return {"lr": lr_frames(wc), "hr": frames(wc.video)["hr"], "patches": patches(wc)}


def method_dir(wc, method=None, rate=None):
    return f"{scale_dir(wc)}/{method or wc.method}/{rate or wc.rate}"


def checkpoints(wc, method=None, rate=None):
    """The checkpoints a method's training writes (one per chunk, or one joint model)."""
    method = method or wc.method
    return [f"{method_dir(wc, method, rate)}/{name}" for name in stdo_config.model_files(config, method)]


def general_job(scale):
    """The wildcards of the general job of `scale`: its files carry a hash of its recipe."""
    return {"scale": scale, "recipe": stdo_config.general_hash(config, int(scale))}


def general_model(wc):
    return rules.general.output.model.format(**general_job(wc.scale))


RESIDENT = stdo_config.resident_base(config)
BASES = f"{RES}/bases"  # the resident bases, as a client installs them with the player (--base-dir)


def resident_base(wc):
    """The description of the resident base of the scale (rule base), where package.base is resident."""
    return [rules.base.output.entry.format(**general_job(wc.scale))] if RESIDENT else []


def with_bases(params):
    """A job's params plus the folder of bases, where package.base is resident. The base goes into the
    params, not onto the command line: the command of a run made before bases existed stays as it was (a
    changed command would re-run every package and evaluation: Snakemake's code trigger)."""
    return {**params, "base_dir": BASES} if RESIDENT else params


def print_summary():
    table = Path(RES) / "comparison.md"
    if table.exists():
        print(
            f"\nResults in {Path(RES).resolve()}: summary.csv (every measure), rd.csv (rate-distortion),"
            f" summary.md, comparison.md, categories.md (clips pooled per category), psnr_vs_size.png,"
            f" rd_curves.png; packages in"
            f" <video>/x<scale>/<method>/<rate>/package (play one: stdo play PACKAGE -o sr.mp4"
            f"{f' --base-dir {BASES}' if RESIDENT else ''})"
            f"\n\n{table.read_text()}"
        )


# ---------------------------------------------------------------- codec


def codec_params(wc, rate, **extra):
    block = stdo_config.codec(config) or {}
    return as_json(
        {
            "encoder": block.get("encoder"),
            "preset": block.get("preset"),
            "rate": rate,
            "fps": config["videos"][wc.video]["fps"],
            **stdo_config.off_default(block, stdo_config.later_keys("codec")),
            **extra,
        }
    )


ENCODE_LR = (
    "stdo encode-lr --lr-path {input.lr:q} --meta-path {input.meta:q} --out-stream {output.stream:q}"
    " --out-json {output.json:q} {params.frames} --params {params.cfg:q} --threads {threads} --log {log:q}"
)


# ---------------------------------------------------------------- general


def general_checkpoint(wc):
    spec = stdo_config.general(config)
    return [spec["checkpoint"].format(scale=wc.scale)] if "checkpoint" in spec else []


# ---------------------------------------------------------------- cluster


def cluster_params(wc):
    method = config["methods"][wc.method]
    params = {"split": method["split"], "k": method["k"]}
    if method["split"] == "kmeans":
        params["seed"] = config["seed"]
    return params


# ---------------------------------------------------------------- train


def init_model(wc):
    """The checkpoint a method warm-starts from: the general model or a one-model method's (m0)."""
    init = stdo_config.method(config, wc.method)["init"]
    if init == "general":
        return general_model(wc)
    if init != "scratch":
        return f"{method_dir(wc, init)}/chunk0.pt"
    return None


def train_inputs(wc):
    inputs = {**frame_inputs(wc), "chunks": rules.cluster.output.parquet.format(**wc)}
    if init_model(wc):
        inputs["init"] = init_model(wc)
    return inputs


def train_params(wc):
    return as_json(stdo_config.train_params(config, wc.method, int(wc.scale)))


TRAIN_ARGS = (
    "--lr-path {input.lr:q} --hr-path {input.hr:q} --patches-path {input.patches:q}"
    " --chunks-path {input.chunks:q} --init-path {params.init:q} --out {output.model:q}"
    " --params {params.cfg:q} --threads {threads} --log {log:q}"
)


# ---------------------------------------------------------------- evaluate


def trained_dir(wc):
    """Where the models of a package at this rate point were trained."""
    return method_dir(wc, rate=train_rate(wc.rate))


def package_models(wc):
    """Checkpoints a package ships: none for bicubic, the general model, or the method's models."""
    if wc.method == "bicubic":
        return []
    if wc.method == "general":
        return [general_model(wc)]
    return checkpoints(wc, rate=train_rate(wc.rate))


def method_chunks(wc):
    return [f"{trained_dir(wc)}/chunks.parquet"] if wc.method in METHODS else []


def method_selection(wc):
    """What each chunk of a method ships (rules/select.smk), where `select` is on."""
    return [f"{trained_dir(wc)}/selection.json"] if wc.method in METHODS and config["select"] else []


def select_general(wc):
    """The general model select runs itself, where another labeller left its scores out of the patch table;
    passed in the params, not on the command line, so that finished runs keep their command."""
    return {} if config["label_by"] == "general" else {"general_path": general_model(wc)}


def package_inputs(wc):
    selection = method_selection(wc)
    return {
        "stream": lr_stream(wc),
        "codec": f"{lr_dir(wc)}/codec.json",
        "meta": frames(wc.video)["meta"],
        "patches": patches(wc, train_rate(wc.rate)),
        "models": package_models(wc),
        "chunks": method_chunks(wc),
        "selection": selection,
        "general": [general_model(wc)] if selection else [],
        "base": resident_base(wc),
    }


def package_settings(wc):
    """The package job's params: the model storage, the playback, the row's description and, where
    package.base is resident, the base's description (see with_bases)."""
    params = {"scale": int(wc.scale), **stdo_config.package_params(config), "info": method_info(wc)}
    return {**params, "base_path": resident_base(wc)[0]} if RESIDENT else params


def budget_of(recipe):
    """steps (None where unknown before training), and epochs only where given: finished runs keep their params."""
    epochs = {"epochs": recipe["epochs"]} if "epochs" in recipe else {}
    return {"steps": recipe.get("steps"), **epochs}


def method_info(wc):
    """What the tables say about a row besides its scores: how its models were made."""
    if wc.method in REFERENCES:
        general = stdo_config.general(config)
        made = general if wc.method == "general" and isinstance(general, dict) else {}
        recipe = {"split": "-", "mode": "-", "init": "-", **budget_of(made)}
    else:
        m = stdo_config.method(config, wc.method)
        recipe = {k: m[k] for k in ("split", "mode", "init")} | budget_of(m)
    return {
        "video": wc.video,
        "method": wc.method,
        "rate": wc.rate,
        "train_rate": train_rate(wc.rate),
        "budget": config["budget"],
        **recipe,
    }


def evaluate_inputs(wc):
    return {
        "package": rules.package.output.manifest.format(**wc),
        "hr": frames(wc.video)["hr"],
        "patches": patches(wc, train_rate(wc.rate)),
        "chunks": method_chunks(wc),
        "metas": [str(Path(p).with_suffix(".json")) for p in package_models(wc)],
        "base": resident_base(wc),
    }


# ---------------------------------------------------------------- report


# Files for `snakemake --report report.html`: the figures of each (video, scale) and the tables
# (comparison, benchmarks) as HTML pages the report shows inline. Captions: workflow/report/*.rst.
REPORT = f"{RES}/report"


# Category names are single words: the report's own links to a category (workflow.rst) break on spaces.
FIGURES = "Figures"  # one subcategory per (video, scale)


def result(path, caption, label, category="Comparison"):
    """An output of the run in the report, captioned by workflow/report/<caption>.rst."""
    return report(path, caption=f"../report/{caption}.rst", category=category, labels={"result": label})


def figure(path, caption, label):
    """A figure of one (video, scale) in the report, captioned by workflow/report/<caption>.rst."""
    return report(
        path,
        caption=f"../report/{caption}.rst",
        category=FIGURES,
        subcategory="{video} x{scale}",
        labels={"figure": label},
    )


def per_row(path, wc, rate):
    """An output pattern of a per-method rule (rules.<name>.output.<file>) for every row of the tables at `rate`."""
    return [path.format(video=wc.video, scale=wc.scale, method=method, rate=rate) for method in ROWS]


def figure_dir(wc, method):
    """The figures show the papers' setting: lossless LR, models as trained for it."""
    return method_dir(wc, method, train_rate(LOSSLESS))


def trained_models():
    """(checkpoint, 'video/x<scale>/method/rate') of every model the run trains."""
    return [
        (path, f"{video}/x{scale}/{method}/{rate}")
        for video in config["videos"]
        for scale in SCALES
        for method in METHODS
        for rate in TRAIN_RATES
        for path in checkpoints(SimpleNamespace(video=video, scale=scale), method, rate)
    ]


def trained_sidecars(wc):
    return [str(Path(path).with_suffix(".json")) for path, _ in trained_models()]


def method_models(wc):
    return [path for method in METHODS for path in checkpoints(wc, method, train_rate(LOSSLESS))]


def figure_inputs(wc):
    return {"lr": lr_frames(wc, LOSSLESS), "hr": frames(wc.video)["hr"], "patches": patches(wc, train_rate(LOSSLESS))}


SHOWCASE = stdo_config.showcase_rate(config)


def train_benchmark(wc, method, name):
    """The benchmark file of the training job that writes checkpoint `name` (chunk<i>.pt or joint.pt)."""
    if name.startswith("chunk"):
        return rules.train.benchmark.format(**wc, method=method, chunk=name.removeprefix("chunk").removesuffix(".pt"))
    return rules.train_joint.benchmark.format(**wc, method=method)


def encode_benchmark(wc, rate):
    encoding = rules.encode_lr_lossless if rate == LOSSLESS else rules.encode_lr
    return encoding.benchmark.format(**wc, rate=rate)


def benchmark_files():
    """Every job's benchmark file, in pipeline order (but the report tables' own, written after)."""
    files = expand(rules.ingest.benchmark, video=config["videos"])
    files += [rules.general.benchmark.format(**general_job(s)) for s in SCALES]
    files += [rules.base.benchmark.format(**general_job(s)) for s in SCALES] if RESIDENT else []
    files += expand(rules.encode_hr.benchmark, video=config["videos"], rate=HR_RATES)
    for video in config["videos"]:
        for scale in SCALES:
            wc = {"video": video, "scale": scale}
            files += [encode_benchmark(wc, rate) for rate in RATES]
            for rate in TRAIN_RATES:
                at = {**wc, "rate": rate}
                files += expand(rules.label.benchmark, **at) + expand(rules.cluster.benchmark, **at, method=METHODS)
                files += [train_benchmark(at, m, name) for m in METHODS for name in stdo_config.model_files(config, m)]
                files += expand(rules.select.benchmark, **at, method=METHODS) if config["select"] else []
            for job in (rules.package, rules.evaluate):
                files += expand(job.benchmark, **wc, method=ROWS, rate=RATES)
            files += expand(rules.report_figures.benchmark, **wc) + expand(rules.side_by_side.benchmark, **wc)
    return files + [rules.aggregate.benchmark, rules.curves.benchmark] + ([rules.hull.benchmark] if LOSSY else [])
