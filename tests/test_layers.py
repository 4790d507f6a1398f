"""The layers hold (docs/layers.md): what a module imports, checked by importing it in a fresh interpreter and
by reading its imports (ast)."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stdo.cli import STAGES

# The client's play path: a package, ONNX Runtime and PyAV, nothing of the server's.
CLIENT = ["stdo.delivery.play", "stdo.delivery.streaming"]
NOT_ON_THE_CLIENT = ("torch", "pandas", "snakemake", "matplotlib", "sklearn", "stdo.models", "stdo.train",
                     "stdo.config", "stdo.evaluate", "stdo.package", "stdo.delivery.segments")
# What every Snakemake process (and each Slurm job) imports to parse the workflow: no torch, no av.
PARSE_TIME = ["stdo.config", "stdo.vocabulary", "stdo.archs", "stdo.sources"]
NOT_AT_PARSE_TIME = ("torch", "av", "onnx", "onnxruntime", "matplotlib", "stdo.models", "stdo.delivery")


def imported(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(run.stdout.split())


@pytest.mark.parametrize("module", CLIENT)
def test_the_client_imports_nothing_of_the_server(module):
    assert not imported(module) & set(NOT_ON_THE_CLIENT)


@pytest.mark.parametrize("module", PARSE_TIME)
def test_what_the_workflow_parses_with_imports_neither_torch_nor_av(module):
    assert not imported(module) & set(NOT_AT_PARSE_TIME)


# ---------------------------------------------------------------- the imports as written, read with ast

STDO = Path(__file__).resolve().parents[1] / "stdo"
STAGE_MODULES = sorted({f"stdo.{spec.split(':')[0]}" for spec in STAGES.values()})


def module_name(path: Path) -> str:
    parts = path.relative_to(STDO.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (STDO.parent / relative).with_suffix(".py").is_file() or (STDO.parent / relative / "__init__.py").is_file()


def stdo_imports(name: str) -> set[str]:
    """The stdo modules `name` imports anywhere in its code (at the top or inside a function)."""
    path = (STDO.parent / Path(*name.split("."))).with_suffix(".py")
    path = path if path.is_file() else path.with_suffix("") / "__init__.py"
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found |= {f"{base}.{a.name}" if is_module(f"{base}.{a.name}") else base for a in node.names}
    return {m for m in found if m == "stdo" or m.startswith("stdo.")}


@pytest.mark.parametrize("stage", STAGE_MODULES)
def test_a_stage_imports_no_other_stage_nor_the_workflow_configuration(stage):
    imported_here = stdo_imports(stage)
    assert not {m for m in imported_here if m in STAGE_MODULES and m != stage}
    assert not {m for m in imported_here if m == "stdo.config" or m.startswith("stdo.config.")}


def test_the_reader_of_imports_sees_what_a_stage_imports():
    assert {"stdo.fitting", "stdo.io", "stdo.infer", "stdo.models"} <= stdo_imports("stdo.train")
    assert "stdo.report.document" in stdo_imports("stdo.aggregate")


def test_io_is_the_one_atomic_writer():
    """Outputs appear under their final name by one rename, written in one place (stdo.io)."""
    renaming = {module_name(p) for p in STDO.rglob("*.py") if re.search(r"\bos\.(replace|rename)\(", p.read_text())}
    assert renaming == {"stdo.io"}
