"""`stdo <stage> --<path-arg> ... --params JSON [--threads N] [--batch-size N] [--log FILE]`, and
`stdo play PACKAGE -o OUT`.

Each stage is one library function; path options are its path arguments and `--params` carries
the configuration the workflow hands it (exactly the rule's `params`). `--threads` and `--batch-size`
are execution settings, outside the params: they change speed and memory, never a result, so changing
them re-runs nothing. Bad input ends with one
line on stderr naming the input and the problem, and exit status 1."""
from __future__ import annotations

import argparse
import errno
import json
import logging
import sys

from .errors import InputError

# stage -> (module, function, [(path argument, nargs)])
STAGES = {
    "ingest": ("ingest", "ingest", [("source", None), ("out_dir", None)]),
    "encode-lr": ("codec", "encode_lr", [("lr_path", None), ("meta_path", None), ("out_stream", None),
                                         ("out_json", None), ("out_frames", "?")]),
    "encode-hr": ("codec", "encode_hr", [("hr_path", None), ("meta_path", None), ("out_stream", None),
                                         ("out_metrics", None)]),
    "general": ("general", "make_general", [("out", None)]),
    "label": ("label", "label", [("lr_path", None), ("hr_path", None), ("general_path", None), ("out", None)]),
    "cluster": ("cluster", "cluster", [("patches_path", None), ("out_parquet", None), ("out_json", None)]),
    "train": ("train", "train_chunk", [("lr_path", None), ("hr_path", None), ("patches_path", None),
                                       ("chunks_path", None), ("chunk", None), ("out", None),
                                       ("init_path", "?")]),
    "train-joint": ("train", "train_joint", [("lr_path", None), ("hr_path", None), ("patches_path", None),
                                             ("chunks_path", None), ("out", None), ("init_path", "?")]),
    "select": ("select", "select", [("lr_path", None), ("hr_path", None), ("patches_path", None),
                                    ("chunks_path", None), ("model_paths", "+"), ("out", None),
                                    ("general_path", "?")]),
    "base": ("package", "write_base", [("general_path", None), ("out", None)]),
    "package": ("package", "build", [("stream_path", None), ("codec_path", None), ("patches_path", None),
                                     ("out_dir", None), ("model_paths", "*"), ("chunks_path", "?"),
                                     ("meta_path", "?"), ("selection_path", "?"), ("general_path", "?"),
                                     ("base_path", "?")]),
    "evaluate": ("evaluate", "evaluate", [("package_path", None), ("hr_path", None), ("patches_path", None),
                                          ("out", None), ("chunks_path", "?"), ("model_meta_paths", "*"),
                                          ("base_dir", "?")]),
    "aggregate": ("aggregate", "aggregate", [("metric_paths", "+"), ("hr_metric_paths", "*"), ("out_csv", None),
                                            ("out_md", None), ("out_comparison", None), ("out_plot", None),
                                            ("out_rd_csv", None), ("out_rd_plot", None),
                                            ("out_categories_csv", "?"), ("out_categories_md", "?")]),
    "report": ("report.figures", "figures", [("lr_path", None), ("hr_path", None), ("patches_path", None),
                                             ("general_path", None), ("metric_paths", "+"), ("chunk_paths", "+"),
                                             ("model_paths", "+"), ("out_curves", None), ("out_chunk_map", None),
                                             ("out_crops", None)]),
    "side-by-side": ("showcase", "side_by_side", [("metric_paths", "+"), ("hr_metric_paths", "*"), ("hr_path", None),
                                                  ("out_video", None), ("out_html", None), ("base_dir", "?")]),
    "crossover": ("crossover", "crossover", [("summary_path", None), ("out_csv", None), ("out_md", None),
                                             ("out_plot", None)]),
    "hull": ("hull", "hull", [("rd_path", None), ("out_csv", None), ("out_md", None), ("out_plot", None)]),
    "curves": ("curves", "curves", [("sidecar_paths", "+"), ("labels", "+"), ("out_csv", None), ("out_plot", None)]),
    "report-tables": ("report.tables", "tables", [("metric_paths", "+"), ("hr_metric_paths", "*"),
                                                  ("benchmark_paths", "+"), ("out_comparison", None),
                                                  ("out_benchmarks", None), ("out_benchmarks_csv", None)]),
}
OPTIONAL = ("?", "*")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="stdo", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="stage", required=True)
    for stage, (_, _, paths) in STAGES.items():
        p = sub.add_parser(stage)
        for name, nargs in paths:
            p.add_argument("--" + name.replace("_", "-"), dest=name, nargs=nargs, required=nargs not in OPTIONAL,
                           default=[] if nargs == "*" else None)  # an empty list is left out of the shell line
        p.add_argument("--params", type=json.loads, default={}, help="JSON object of keyword arguments")
        p.add_argument("--threads", type=int, help="threads this job may use")
        p.add_argument("--batch-size", type=int, help="inference batch (patches): changes speed and memory, no result")
        p.add_argument("--log", help="log file (progress); errors also go to stderr")
    return top


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["play"]:  # the client: its own options, and it imports no stage module
        from .delivery.play import main as play

        return play(argv[1:])
    args = vars(parser().parse_args(argv))
    stage, log_file = args.pop("stage"), args.pop("log")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        filename=log_file, force=True)
    module, function, _ = STAGES[stage]
    run = getattr(__import__(f"stdo.{module}", fromlist=[function]), function)
    kwargs = {**args.pop("params"), **{k: v for k, v in args.items() if v is not None}}
    try:
        run(**kwargs)
    except Exception as err:
        message = _known_failure(err)
        if message is None:  # the unexpected: its traceback ends the job's log too, not only stderr
            if log_file:
                logging.getLogger("stdo").exception("stdo %s crashed", stage)
            raise
        if log_file:  # otherwise logging already writes to stderr: say it once
            logging.getLogger("stdo").error("%s", message)
        print(f"stdo {stage}: error: {message}", file=sys.stderr)
        return 1
    return 0


def _known_failure(err: Exception) -> str | None:
    """The one line for a failure the user can act on (bad input, a full disk); None for a crash."""
    if isinstance(err, InputError):
        return str(err)
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return f"{err.filename or 'an output'}: no space left on the device"
    return None
