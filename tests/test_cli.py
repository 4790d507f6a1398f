import subprocess
import sys

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
