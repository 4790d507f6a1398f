"""Content the general model reproduces exactly (issue 21): a black clip, where every patch's MSE is 0 and PSNR
would be infinite, and the clip held still on its first frame. The run labels, clusters, trains, selects,
packages, evaluates and aggregates with finite tables: a perfect match scores metrics.PSNR_CAP_DB."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import write_png
from tiny import snakemake, workdir

from stdo import metrics

FLAT = {"select": True, "codec": {"encoder": "libx264", "preset": "ultrafast", "crf": [30], "hr_crf": [30, 45]},
        "methods": {"m0": {"split": "none", "k": 1, "arch": "espcn", "steps": 8},
                    "stdo": {"split": "stdo", "k": 2, "arch": "espcn", "steps": 8}}}


def frames_folder(root, frames) -> str:
    for i, frame in enumerate(frames):
        write_png(root / f"frame_{i + 1}.png", frame)
    return root


@pytest.mark.parametrize("content", ["black", "still"])
def test_flat_content_runs_end_to_end_with_finite_tables(bunny, tmp_path, content):
    frames = np.zeros_like(bunny) if content == "black" else np.repeat(bunny[:1], len(bunny), axis=0)
    root = workdir(tmp_path / "run", frames_folder(tmp_path / "frames", frames), **FLAT)
    run = snakemake(root)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = pd.read_csv(root / "results" / "summary.csv")
    lossless = table[table.rate == "lossless"].set_index("method")
    papers = lossless[["psnr_stdo_patch", "psnr_frame_rgb", "psnr_frame_y", "psnr_cafm"]].to_numpy()
    codec = table[["rd_psnr_y", "rd_psnr_rgb", "vmaf_neg"]].to_numpy()
    assert np.isfinite(papers).all() and np.isfinite(codec).all() and (papers <= metrics.PSNR_CAP_DB).all()
    rd = pd.read_csv(root / "results" / "rd.csv")
    assert np.isfinite(rd["rd_psnr_y"]).all() and (root / "results" / "rd_curves.png").stat().st_size
    if content == "black":  # everything is perfect: every chunk ships bicubic, the cheapest, and no model
        assert (papers == metrics.PSNR_CAP_DB).all()
        assert lossless.loc["m0", "fallbacks"] == 1 and lossless.loc["stdo", "fallbacks"] == 2
        assert (lossless.loc[["m0", "stdo"], "models_and_map_bytes"] <= lossless.loc["stdo", "map_bytes"]).all()


def test_a_perfect_match_scores_the_cap():
    assert metrics.psnr(0.0) == metrics.PSNR_CAP_DB and (metrics.psnr(np.zeros(3)) == metrics.PSNR_CAP_DB).all()
    assert metrics.psnr(1e-30) == metrics.PSNR_CAP_DB and metrics.psnr(1.0) == pytest.approx(48.1308, abs=1e-4)
