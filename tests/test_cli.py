import subprocess
import sys
from pathlib import Path

from conftest import REPO


def stdo(*args):
    return subprocess.run([sys.executable, "-m", "stdo", *args], capture_output=True, text=True, cwd=REPO)


def test_bad_input_ends_with_one_line_naming_it(tmp_path):
    missing = tmp_path / "missing.mp4"
    run = stdo("ingest", "--source", str(missing), "--out-dir", str(tmp_path / "out"),
               "--params", '{"scales": [4], "grids": {"4": [10, 5]}}')
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [f"stdo ingest: error: {missing}: no such file or folder"]
    assert not (tmp_path / "out").exists()


def test_stage_writes_progress_to_its_log(frames_dir, tmp_path):
    log = tmp_path / "ingest.log"
    run = stdo("ingest", "--source", str(frames_dir), "--out-dir", str(tmp_path / "out"),
               "--params", '{"scales": [4], "grids": {"4": [4, 2]}}', "--log", str(log))
    assert run.returncode == 0, run.stderr
    assert "6 frames" in log.read_text()


def test_a_crash_ends_the_log_with_its_traceback(frames_dir, tmp_path):
    log = tmp_path / "ingest.log"
    run = stdo("ingest", "--source", str(frames_dir), "--out-dir", str(tmp_path / "out"),
               "--params", '{"scales": [4], "grids": {"4": [4, 2]}, "bogus": 1}', "--log", str(log))
    assert run.returncode == 1
    lines = log.read_text().splitlines()
    assert "stdo ingest crashed" in lines[0] and lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "TypeError: ingest() got an unexpected keyword argument 'bogus'"
    assert run.stderr.strip().splitlines()[-1] == lines[-1]  # and on stderr, as before


def test_the_console_script_runs_the_stages_and_the_client():
    script = Path(sys.executable).with_name("stdo")  # installed by pip from [project.scripts]
    stages = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    client = subprocess.run([str(script), "play", "--help"], capture_output=True, text=True)
    assert stages.returncode == 0 and "evaluate" in stages.stdout and "encode-lr" in stages.stdout
    assert client.returncode == 0 and "--runtime" in client.stdout and "--lossless" in client.stdout


def test_an_optional_list_left_out_is_an_empty_list():
    # with `codec: none` the workflow leaves --hr-metric-paths out of the shell line
    from stdo.cli import parser

    args = parser("aggregate").parse_args([
        "aggregate", "--metric-paths", "a.json", "--out-csv", "s.csv", "--out-md", "s.md", "--out-comparison", "c.md",
        "--out-plot", "p.png", "--out-rd-csv", "rd.csv", "--out-rd-plot", "rd.png"])
    assert args.hr_metric_paths == [] and args.metric_paths == ["a.json"]


def test_a_full_disk_ends_with_one_line_naming_the_file(monkeypatch, capsys, tmp_path):
    import errno
    import functools

    from stdo import aggregate, cli

    @functools.wraps(aggregate.aggregate)  # the command line reads the stage's paths off its signature
    def full(**kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "summary.csv"))

    monkeypatch.setattr("stdo.aggregate.aggregate", full)
    code = cli.main(["aggregate", "--metric-paths", "m.json", "--out-csv", "s.csv", "--out-md", "s.md",
                     "--out-comparison", "c.md", "--out-plot", "p.png", "--out-rd-csv", "rd.csv",
                     "--out-rd-plot", "rd.png"])
    assert code == 1
    assert capsys.readouterr().err.splitlines() == [f"stdo aggregate: error: {tmp_path / 'summary.csv'}: "
                                                    "no space left on the device"]


def test_every_stage_s_path_arguments_are_read_off_its_function():
    """One declaration of a stage's paths: its signature, which each stage's parser is built from."""
    from stdo.cli import STAGES, parser, path_arguments, stage_function

    for stage in STAGES:
        assert path_arguments(stage_function(stage)) and parser(stage).format_help()
    assert dict(path_arguments(stage_function("train"))) == {
        "lr_path": None, "hr_path": None, "patches_path": None, "chunks_path": None, "chunk": None, "out": None,
        "init_path": "?"}
    assert dict(path_arguments(stage_function("aggregate")))["hr_metric_paths"] == "*"
    assert dict(path_arguments(stage_function("select")))["model_paths"] == "+"
