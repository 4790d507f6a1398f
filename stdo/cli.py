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
import importlib
import inspect
import json
import logging
import sys

from .errors import InputError

OPTIONAL = ("?", "*")

# stage -> the library function that is the stage, "module:function" (imported only when the stage runs)
STAGES = {
    "ingest": "ingest:ingest", "encode-lr": "codec:encode_lr", "encode-hr": "codec:encode_hr",
    "general": "general:make_general", "label": "label:label", "cluster": "cluster:cluster",
    "train": "train:train_chunk", "train-joint": "train:train_joint", "select": "select:select",
    "base": "package:write_base", "package": "package:build", "evaluate": "evaluate:evaluate",
    "aggregate": "aggregate:aggregate", "report": "report.figures:figures", "side-by-side": "showcase:side_by_side",
    "crossover": "crossover:crossover", "hull": "hull:hull", "curves": "curves:curves",
    "report-tables": "report.tables:tables", "segment": "delivery.segments:segment",
}


def stage_function(stage: str):
    module, function = STAGES[stage].split(":")
    return getattr(importlib.import_module(f"stdo.{module}"), function)


def path_arguments(function) -> list[tuple[str, str | None]]:
    """The command-line path arguments of a stage, read off its function's signature (the one place they are
    declared): the parameters named source, chunk, labels, out, out_*, *_dir, *_path or *_paths; a list for
    *_paths and labels; required where the function gives no default (a list: at least one path)."""
    arguments = []
    for name, parameter in inspect.signature(function).parameters.items():
        if not (name in ("source", "chunk", "labels", "out") or name.startswith("out_")
                or name.endswith(("_dir", "_path", "_paths"))):
            continue
        required = parameter.default is inspect.Parameter.empty
        listed = name == "labels" or name.endswith("_paths")
        arguments.append((name, ("+" if required else "*") if listed else (None if required else "?")))
    return arguments


def parser(stage: str | None = None) -> argparse.ArgumentParser:
    """The command line: every stage's name; the arguments of `stage` only (its module is imported for them)."""
    top = argparse.ArgumentParser(prog="stdo", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="stage", required=True)
    for name in STAGES:
        p = sub.add_parser(name)
        if name != stage:
            continue
        for argument, nargs in path_arguments(stage_function(name)):
            p.add_argument("--" + argument.replace("_", "-"), dest=argument, nargs=nargs,
                           required=nargs not in OPTIONAL, default=[] if nargs == "*" else None)
            # (an empty list is left out of the shell line)
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
    if argv[:1] == ["serve"]:  # packages as static files over HTTP (nginx)
        from .delivery.serve import main as serve

        return serve(argv[1:])
    stage = argv[0] if argv and argv[0] in STAGES else None
    args = vars(parser(stage).parse_args(argv))
    stage, log_file = args.pop("stage"), args.pop("log")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        filename=log_file, force=True)
    run = stage_function(stage)
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
