"""The conda environment and the pip package must list the same dependencies; CI must run the
README's test command."""
import re
import tomllib

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
