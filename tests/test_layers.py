"""The layers hold (docs/layers.md): what a module imports, checked by importing it in a fresh interpreter."""
import subprocess
import sys

import pytest

# The client's play path: a package, ONNX Runtime and PyAV, nothing of the server's.
CLIENT = ["stdo.delivery.play"]
NOT_ON_THE_CLIENT = ("torch", "pandas", "snakemake", "matplotlib", "sklearn", "stdo.models", "stdo.train",
                     "stdo.config", "stdo.evaluate", "stdo.package")
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
