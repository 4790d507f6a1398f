import json
import re
import shlex
import sys
from pathlib import Path

from stdo import config as stdo_config
from stdo.errors import InputError
from stdo.ingest import frame_files, resolve_source

try:
    config.update(stdo_config.load(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml"))
except InputError as err:
    sys.exit(f"stdo: {err}")

RES = config["results_dir"]
RSC = config["resources_dir"]
SCALES = config["scales"]
METHODS = list(config["methods"])
REFERENCES = ["bicubic", "general"]
STDO = f"{shlex.quote(sys.executable)} -m stdo"


wildcard_constraints:
    video="|".join(map(re.escape, config["videos"])),
    scale="[234]",
    method="|".join(map(re.escape, METHODS)),
    reference="|".join(REFERENCES),
    chunk="[0-9]+",


def as_json(obj):
    """A rule's params as one JSON string: stable, so Snakemake's params trigger sees real changes only."""
    return json.dumps(obj, sort_keys=True)


def frames(video="{video}"):
    return {k: str(v) for k, v in frame_files(f"{RES}/{video}/frames", SCALES).items()}


def scale_dir(wc):
    return f"{RES}/{wc.video}/x{wc.scale}"


def frame_inputs(wc):
    files = frames(wc.video)
    return {"lr": files[f"lr_x{wc.scale}"], "hr": files["hr"], "patches": f"{scale_dir(wc)}/patches.parquet"}


GENERAL = f"{RSC}/general/x{{scale}}.pt"


def print_summary():
    table = Path(RES) / "comparison.md"
    if table.exists():
        print(f"\nResults in {Path(RES).resolve()}: summary.csv (every measure), summary.md, comparison.md,"
              f" psnr_vs_size.png\n\n{table.read_text()}")
