import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

from stdo import config as stdo_config
from stdo.errors import InputError
from stdo.sources import fingerprint, frame_files, resolve_source

try:
    config.update(stdo_config.load(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml"))
except InputError as err:
    sys.exit(f"stdo: {err}")

RES = config["results_dir"]
RSC = config["resources_dir"]
SCALES = config["scales"]
METHODS = list(config["methods"])
REFERENCES = ["bicubic", "general"]
ROWS = REFERENCES + METHODS  # every row of the tables: the references, then the methods
RATES = stdo_config.lr_rates(config)  # rate points of the LR stream, "lossless" first
HR_RATES = stdo_config.hr_rates(config)  # rate points of the HR codec baseline
LOSSLESS = stdo_config.LOSSLESS
STDO = f"{shlex.quote(sys.executable)} -m stdo"


def train_rate(rate):
    """The rate point whose decoded LR frames trained the models a package at `rate` ships."""
    return stdo_config.train_rate(config, rate)


TRAIN_RATES = list(dict.fromkeys(train_rate(r) for r in RATES))


wildcard_constraints:
    video="|".join(map(re.escape, config["videos"])),
    scale="[234]",
    method="|".join(map(re.escape, ROWS)),
    rate=stdo_config.RATE_PATTERN,
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


def general_job(scale):
    """The wildcards of the general job of `scale`: its files carry a hash of its recipe."""
    return {"scale": scale, "recipe": stdo_config.general_hash(config, int(scale))}


def general_model(wc):
    return rules.general.output.model.format(**general_job(wc.scale))


def print_summary():
    table = Path(RES) / "comparison.md"
    if table.exists():
        print(f"\nResults in {Path(RES).resolve()}: summary.csv (every measure), rd.csv (rate-distortion),"
              f" summary.md, comparison.md, categories.md (clips pooled per category), psnr_vs_size.png,"
              f" rd_curves.png; packages in"
              f" <video>/x<scale>/<method>/<rate>/package (play one: stdo play PACKAGE -o sr.mp4)"
              f"\n\n{table.read_text()}")
