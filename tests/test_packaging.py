"""The conda environment and the pip package must list the same dependencies; CI must run the
README's test command."""
import os
import re
import subprocess
import tomllib
import venv as venv_module
from pathlib import Path

import yaml
from conftest import REPO

CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name


def name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pip_side = {name(r) for r in project["dependencies"] + extras["test"] + extras["slurm"]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
    conda = [d for d in env if isinstance(d, str)]
    pip = next(d["pip"] for d in env if isinstance(d, dict))
    conda_side = {CONDA_NAMES.get(name(d), name(d)) for d in conda if name(d) not in ("python", "pip")}
    conda_side |= {name(d) for d in pip if not d.startswith("-e")}
    assert conda_side == pip_side


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    commands = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith(("#", "set ", "cd ", "export "))]
    assert any(c in readme for c in commands if "pytest" in c)


RULE_ENV = REPO / "workflow" / "envs" / "stdo.yaml"


def test_rule_environment_pins_every_runtime_dependency_within_pyproject():
    from packaging.requirements import Requirement

    wanted = {Requirement(r).name.lower(): Requirement(r).specifier
              for r in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]}
    wanted.pop("snakemake")  # runs the workflow; the rules only call the stdo console script
    pip = next(d["pip"] for d in yaml.safe_load(RULE_ENV.read_text())["dependencies"] if isinstance(d, dict))
    pins = dict(line.split("==") for line in pip if not line.startswith("-"))
    assert set(pins) == set(wanted)
    assert all(pins[n] in wanted[n] for n in pins), {n: pins[n] for n in pins if pins[n] not in wanted[n]}


def run_post_deploy(venv: Path, cwd: Path, **env) -> subprocess.CompletedProcess:
    path = f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(["bash", str(RULE_ENV.with_suffix(".post-deploy.sh"))], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "PATH": path, **env})


def test_post_deploy_script_installs_the_library_into_the_rule_environment(tmp_path):
    venv = tmp_path / "env"
    venv_module.create(venv, with_pip=True)
    refused = run_post_deploy(venv, tmp_path)
    assert refused.returncode == 1 and f"{tmp_path} is not a stdo checkout" in refused.stderr
    done = run_post_deploy(venv, tmp_path, STDO_SOURCE=str(REPO))
    assert done.returncode == 0, done.stderr
    assert (venv / "bin" / "stdo").exists()
    assert "stdo.cli" in (venv / "bin" / "stdo").read_text()
