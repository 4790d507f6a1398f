"""End to end on a real Slurm: the tiny workflow through workflow/profiles/slurm, checked against a local
run of the same config. Skips, saying why, when no Slurm with an idle node answers on this machine;
to run it, start the one-node test cluster first: `sudo bash tests/slurm/start-local-cluster.sh`."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO
from tiny import SNAKEMAKE, TINY, workdir

PROFILES = REPO / "workflow" / "profiles"
START_HINT = "start the test cluster with: sudo bash tests/slurm/start-local-cluster.sh"
SLURM_LIMIT_S = 1200  # the whole run on Slurm (about 4 min on our 2-core machine)
LOCAL_LIMIT_S = 900
# Polling every few seconds instead of the profile's 40 s start: the tiny jobs take seconds each.
FAST_POLL = ("--slurm-init-seconds-before-status-checks", "3")
# Two methods are enough to show per-chunk jobs on the cluster; fewer jobs keep the suite short.
METHODS = {name: TINY["methods"][name] for name in ("m0", "stdo")}
SUBMITTED = re.compile(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.?$", re.M)


def tool(*cmd: str, limit: int = 30) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=limit)


def run_snakemake(root: Path, *args: str, limit: int) -> tuple[subprocess.CompletedProcess, float]:
    """The Snakemake CLI on the work dir `root`, under coreutils `timeout` (TERM at `limit`, KILL 30 s later)."""
    cmd = ["timeout", "-k", "30", str(limit), str(SNAKEMAKE), "-s", str(REPO / "workflow" / "Snakefile"),
           "-d", str(root), *args]
    start = time.monotonic()
    run = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=limit + 60)
    return run, time.monotonic() - start


def profile_max_mem_mb(name: str) -> int:
    profile = yaml.safe_load((PROFILES / name / "config.yaml").read_text())
    return max([profile["default-resources"]["mem_mb"]]
               + [r["mem_mb"] for r in profile["set-resources"].values() if "mem_mb" in r])


def why_no_slurm() -> str | None:
    """None when Slurm can run this test here, else the reason to skip."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return 'the Snakemake SLURM executor plugin is not installed (pip install -e ".[slurm]")'
    missing = [t for t in ("sinfo", "sbatch", "squeue", "scancel", "scontrol", "timeout") if not shutil.which(t)]
    if missing:
        return f"no Slurm on this machine ({', '.join(missing)} not on PATH); {START_HINT}"
    try:
        info = tool("sinfo", "--noheader", "--format=%P|%T|%m", limit=20)
    except subprocess.TimeoutExpired:
        return f"sinfo did not answer within 20 s; {START_HINT}"
    if info.returncode != 0:
        return f"the Slurm controller does not answer ({info.stderr.strip()}); {START_HINT}"
    wanted = os.environ.get("STDO_SLURM_PARTITION", "")
    rows = [line.split("|") for line in info.stdout.split()]
    rows = [(p.rstrip("*"), s, m) for p, s, m in rows if (p.rstrip("*") == wanted if wanted else p.endswith("*"))]
    up = [(p, int(m.rstrip("+"))) for p, s, m in rows if s in ("idle", "mixed")]
    if not up:
        return f"no idle node in partition {wanted or '(default)'}: sinfo says {info.stdout.strip()!r}; {START_HINT}"
    need = profile_max_mem_mb("slurm")
    if max(m for _, m in up) < need:
        return f"the profile asks for up to {need} MB per job, the nodes have {max(m for _, m in up)} MB"
    return None


def cancel_run(run: subprocess.CompletedProcess) -> None:
    """Cancel whatever a Snakemake run left on the cluster (its jobs are named by its SLURM run ID)."""
    for run_id in re.findall(r"SLURM run ID: (\S+)", run.stdout + run.stderr):
        subprocess.run(["scancel", "--name", run_id], capture_output=True, timeout=30)


def slurm_jobs(run: subprocess.CompletedProcess) -> dict[str, dict[str, str]]:
    """Slurm's own record of a run's jobs: job id -> state, rule, wildcards (from the job comment)."""
    run_id = re.search(r"SLURM run ID: (\S+)", run.stdout + run.stderr).group(1)
    queue = tool("squeue", "--noheader", "--states=all", "--name", run_id, "--format=%i|%T|%k")
    assert queue.returncode == 0, queue.stderr
    jobs = {}
    for line in queue.stdout.split():
        job_id, state, comment = line.split("|", 2)
        rule, _, wildcards = comment.removeprefix("rule_").partition("_wildcards_")
        jobs[job_id] = {"state": state, "rule": rule, "wildcards": wildcards}
    return jobs


def job_stats(run: subprocess.CompletedProcess) -> dict[str, int]:
    """Snakemake's own 'Job stats' table: rule -> number of jobs (without `all` and the total)."""
    table = (run.stdout + run.stderr).split("Job stats:", 1)[1].split("\n\n", 1)[0]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
    return {rule: n for rule, n in counts.items() if rule not in ("all", "total")}


def controller_log() -> str | None:
    config = tool("scontrol", "show", "config").stdout
    match = re.search(r"^SlurmctldLogFile\s*=\s*(\S+)", config, re.M)
    path = Path(match.group(1)) if match else None
    return path.read_text(errors="replace") if path and os.access(path, os.R_OK) else None


@pytest.fixture(scope="module")
def slurm():
    reason = why_no_slurm()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def on_slurm(slurm, frames_dir, tmp_path_factory):
    root = workdir(tmp_path_factory.mktemp("slurm"), frames_dir, methods=METHODS, codec="none")
    run, seconds = run_snakemake(root, "--workflow-profile", str(PROFILES / "slurm"), "--slurm-keep-successful-logs",
                                 *FAST_POLL, limit=SLURM_LIMIT_S)
    cancel_run(run)  # a no-op after a clean run
    assert run.returncode == 0, (f"rc {run.returncode} after {seconds:.0f} s:\n{run.stdout[-3000:]}\n"
                                 f"{run.stderr[-5000:]}")
    print(f"\nthe tiny workflow on Slurm: {seconds:.0f} s")
    return root, run


@pytest.fixture(scope="module")
def local(slurm, frames_dir, tmp_path_factory):
    root = workdir(tmp_path_factory.mktemp("local"), frames_dir, methods=METHODS, codec="none")
    run, seconds = run_snakemake(root, "--cores", "2", limit=LOCAL_LIMIT_S)
    assert run.returncode == 0, f"rc {run.returncode}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    print(f"\nthe tiny workflow locally: {seconds:.0f} s")
    return root, run


def test_slurm_run_gives_the_same_summary_as_a_local_run(on_slurm, local):
    tables = [pd.read_csv(root / "results" / "summary.csv").drop(columns="train_seconds")
              for root, _ in (on_slurm, local)]
    assert len(tables[0]) == 2 + len(METHODS)  # bicubic, general and every method
    pd.testing.assert_frame_equal(*tables)


def test_every_job_went_through_sbatch_and_completed(on_slurm):
    root, run = on_slurm
    submitted = dict(SUBMITTED.findall(run.stdout + run.stderr))  # Slurm job id -> its Slurm log file
    jobs = slurm_jobs(run)
    assert submitted and set(submitted) == set(jobs)
    assert {job["state"] for job in jobs.values()} == {"COMPLETED"}
    # every Snakemake job was one Slurm job, but for local rules (`all`, and any `localrules:`)
    local = {"all"} | set(re.findall(r"^localrule (\w+):", run.stdout + run.stderr, re.M))
    expected = {rule: n for rule, n in job_stats(run).items() if rule not in local}
    assert {rule: sum(job["rule"] == rule for job in jobs.values()) for rule in expected} == expected
    assert {job["rule"] for job in jobs.values()} <= set(expected)
    for job_id, log in submitted.items():  # the plugin's per-job Slurm logs, inside the work dir
        log = Path(log)
        assert log.is_relative_to(root / ".snakemake" / "slurm_logs") and log.name == f"{job_id}.log"
        assert f"rule {jobs[job_id]['rule']}:" in log.read_text()
    text = controller_log()
    if text is not None:  # the controller's log (readable on the local test cluster): batch RPC and exit 0
        for job_id in submitted:
            assert f"_slurm_rpc_submit_batch_job: JobId={job_id} " in text
            assert f"_job_complete: JobId={job_id} WEXITSTATUS 0" in text


def test_each_chunk_model_is_its_own_slurm_job(on_slurm):
    root, run = on_slurm
    train = {job_id: job["wildcards"] for job_id, job in slurm_jobs(run).items() if job["rule"] == "train"}
    models = sorted(root.glob("results/*/x*/*/*/chunk*.pt"))  # <video>/x<scale>/<method>/<rate>/chunk<i>.pt
    # one job per chunk model, wildcards video_scale_method_rate_chunk, all different
    assert len(train) == len(set(train.values())) == len(models)
    expected = {"_".join([p.parts[-5], p.parts[-4].removeprefix("x"), p.parts[-3], p.parts[-2],
                          p.stem.removeprefix("chunk")]) for p in models}
    assert set(train.values()) == expected
    k = METHODS["stdo"]["k"]
    assert ({w for w in train.values() if w.startswith("tiny_4_stdo_")}
            == {f"tiny_4_stdo_lossless_{c}" for c in range(k)})


def test_gpu_profile_jobs_are_accepted_and_get_a_gpu(slurm, frames_dir, tmp_path):
    """The GPU profile's `gres` request goes through sbatch and is scheduled on the node's GPU (a fake one
    on the test cluster, so the job itself runs with device=cpu)."""
    gres = tool("sinfo", "--noheader", "--format=%G").stdout
    if "gpu" not in gres:
        pytest.skip(f"no node with a GPU gres in this Slurm (sinfo %G: {gres.strip()!r})")
    root = workdir(tmp_path, frames_dir, device="cpu", methods=METHODS, codec="none")
    run, _ = run_snakemake(root, "--workflow-profile", str(PROFILES / "slurm-gpu"), *FAST_POLL,
                           "--until", "general", limit=600)
    cancel_run(run)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [job_id] = dict(SUBMITTED.findall(run.stdout + run.stderr))
    queue = tool("squeue", "--noheader", "--states=all", "--jobs", job_id, "--format=%T|%b|%k")
    [(state, gres, name)] = [line.split("|") for line in queue.stdout.split()]
    assert (state, gres) == ("COMPLETED", "gres:gpu:1") and name.startswith("rule_general_wildcards_4")
