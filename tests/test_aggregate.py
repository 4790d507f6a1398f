import json

import matplotlib.image
import pandas as pd
import pytest

from stdo.aggregate import COLUMNS, aggregate

ROWS = [
    {"video": "v", "scale": 4, "method": "bicubic", "k": 1, "arch": "bicubic", "total_params": 0,
     "delivered_bytes": 0, "steps": None, "budget": None, "psnr_stdo_patch": 30.123, "psnr_frame_rgb": 30.0,
     "psnr_frame_y": 31.0, "ssim": 0.85432, "train_seconds": 0.0},
    {"video": "v", "scale": 4, "method": "stdo", "k": 4, "arch": "espcn", "total_params": 284224,
     "delivered_bytes": 568448 + 1500, "steps": 1200, "budget": "total", "psnr_stdo_patch": 32.178,
     "psnr_frame_rgb": 32.0, "psnr_frame_y": 33.5, "ssim": 0.8875, "train_seconds": 251.6},
    {"video": "v", "scale": 2, "method": "stdo", "k": 4, "arch": "espcn", "total_params": 242608,
     "delivered_bytes": 485216 + 1500, "steps": 1200, "budget": "total", "psnr_stdo_patch": 36.5,
     "psnr_frame_rgb": 36.0, "psnr_frame_y": 37.5, "ssim": 0.95, "train_seconds": 200.0},
]


@pytest.fixture
def outputs(tmp_path):
    paths = []
    for i, row in enumerate(ROWS):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(row))
    names = ["s.csv", "s.md", "c.md", "p.png"]
    aggregate(paths, *(tmp_path / n for n in names))
    return [tmp_path / n for n in names]


def test_summary_keeps_row_order_and_states_conventions(outputs):
    csv, md, _, _ = outputs
    table = pd.read_csv(csv)
    assert list(table.columns) == COLUMNS and table.method.tolist() == ["bicubic", "stdo", "stdo"]
    text = md.read_text()
    assert "| v | 4 | bicubic | 1 | bicubic | 0 | 0 | - | 30.12 |" in text
    assert "| v | 4 | stdo | 4 | espcn | 284224 | 569948 | 1200 | 32.18 | 32.00 | 33.50 | 0.8875 | 252 |" in text
    assert "scale+4 px shaved" in text


def test_comparison_has_methods_as_rows_and_scales_as_columns(outputs):
    text = outputs[2].read_text()
    assert "| method | v x2 | v x4 |" in text  # scales in order, whatever the row order
    assert "| stdo | 36.50 | 32.18 |" in text and "| bicubic | - | 30.12 |" in text
    assert "| stdo | 486.7 | 569.9 |" in text  # KB
    assert "Training budget (optimizer steps): stdo 1200; shared among a method's chunk models" in text


def test_plot_is_a_real_png(outputs):
    image = matplotlib.image.imread(outputs[3])
    assert image.shape[0] > 300 and image.shape[1] > 800  # two panels side by side
