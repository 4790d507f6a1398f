import json

import pandas as pd

from stdo.aggregate import COLUMNS, aggregate


def test_rows_keep_their_order_and_the_markdown_states_conventions(tmp_path):
    rows = [{"video": "v", "scale": 4, "method": "bicubic", "k": 1, "arch": "bicubic", "total_params": 0,
             "steps": None, "psnr_stdo_patch": 30.123, "psnr_frame_rgb": 30.0, "psnr_frame_y": 31.0,
             "ssim": 0.85432, "train_seconds": 0.0},
            {"video": "v", "scale": 4, "method": "stdo", "k": 4, "arch": "espcn", "total_params": 284224,
             "steps": 1200, "psnr_stdo_patch": 32.178, "psnr_frame_rgb": 32.0, "psnr_frame_y": 33.5,
             "ssim": 0.8875, "train_seconds": 251.6}]
    paths = []
    for i, row in enumerate(rows):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(row))
    aggregate(paths, tmp_path / "s.csv", tmp_path / "s.md")
    table = pd.read_csv(tmp_path / "s.csv")
    assert list(table.columns) == COLUMNS and table.method.tolist() == ["bicubic", "stdo"]
    md = (tmp_path / "s.md").read_text()
    assert "| v | 4 | bicubic | 1 | bicubic | 0 | - | 30.12 |" in md
    assert "| v | 4 | stdo | 4 | espcn | 284224 | 1200 | 32.18 | 32.00 | 33.50 | 0.8875 | 252 |" in md
    assert "scale+4 px shaved" in md
