import json
import re

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from stdo import measures, rd
from stdo.aggregate import aggregate
from stdo.errors import InputError
from stdo.report.summary import COLUMNS

LOSSLESS = [
    {"video": "v", "scale": 4, "method": "bicubic", "rate": "lossless", "k": 1, "arch": "bicubic", "total_params": 0,
     "models_and_map_bytes": 0, "steps": None, "budget": None, "psnr_stdo_patch": 30.123, "psnr_frame_rgb": 30.0,
     "psnr_frame_y": 31.0, "ssim": 0.85432, "train_seconds": 0.0},
    {"video": "v", "scale": 4, "method": "stdo", "rate": "lossless", "k": 4, "arch": "espcn", "total_params": 284224,
     "models_and_map_bytes": 568448 + 1500, "steps": 1200, "budget": "total", "psnr_stdo_patch": 32.178,
     "psnr_frame_rgb": 32.0, "psnr_frame_y": 33.5, "ssim": 0.8875, "train_seconds": 251.6},
    {"video": "v", "scale": 2, "method": "stdo", "rate": "lossless", "k": 4, "arch": "espcn", "total_params": 242608,
     "models_and_map_bytes": 485216 + 1500, "steps": 1200, "budget": "total", "psnr_stdo_patch": 36.5,
     "psnr_frame_rgb": 36.0, "psnr_frame_y": 37.5, "ssim": 0.95, "train_seconds": 200.0},
]
HR_KBPS = [100.0, 200.0, 400.0, 800.0]
HR_PSNR = [30.0, 33.0, 36.0, 39.0]


def rate_point(method, scale, rate, kbps, psnr, vmaf):
    """A point whose LR stream is half of its package (the anchor's stream is all of it)."""
    return {"video": "v", "scale": scale, "method": method, "rate": rate, "kbps_package": kbps, "rd_psnr_y": psnr,
            "kbps_stream": kbps if method == "hr_codec" else kbps / 2, "vmaf": vmaf, "vmaf_neg": vmaf - 1,
            "vmaf_model": "vmaf_v0.6.1"}


def curves():
    """The HR codec; a method that needs 20 % fewer bits for the same quality (an exact BD-rate of -20 %);
    one whose curve is out of the anchor's quality range."""
    hr = [rate_point("hr_codec", 1, f"crf{i}", r, q, 10 * q - 250) for i, (r, q) in enumerate(zip(HR_KBPS, HR_PSNR))]
    better = [rate_point("stdo", 4, f"crf{i}", 0.8 * r, q, 10 * q - 250)
              for i, (r, q) in enumerate(zip(HR_KBPS, HR_PSNR))]
    low = [rate_point("bicubic", 4, f"crf{i}", r, q - 20, 10 * (q - 20) - 250) for i, (r, q) in
           enumerate(zip(HR_KBPS, HR_PSNR))]
    return hr, better + low


@pytest.fixture
def outputs(tmp_path):
    hr, points = curves()
    paths, hr_paths = [], []
    for i, row in enumerate(LOSSLESS + points):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(row))
    for i, row in enumerate(hr):
        hr_paths.append(tmp_path / f"hr{i}.json")
        hr_paths[-1].write_text(json.dumps(row))
    names = ["s.csv", "s.md", "c.md", "p.png", "rd.csv", "rd.png"]
    aggregate(paths, *(tmp_path / n for n in names), hr_metric_paths=hr_paths)
    return {n: tmp_path / n for n in names}


def markdown(path) -> str:
    """A Markdown file with the padding of its table cells squeezed out: '| a   |  1 |' -> '| a | 1 |'."""
    return re.sub(" +", " ", path.read_text())


def test_summary_keeps_row_order_and_states_conventions(outputs):
    table = pd.read_csv(outputs["s.csv"])
    assert list(table.columns) == COLUMNS and table.method.tolist()[:3] == ["bicubic", "stdo", "stdo"]
    text = markdown(outputs["s.md"])
    assert "| v | 4 | bicubic | lossless | 1 | 0 | 0 | - | - | 30.12 |" in text
    assert "scale+4 px shaved" in text and f"- {measures.describe('psnr_stdo_patch')}" in text


def test_every_measure_the_tables_hold_has_its_convention_in_the_registry(outputs):
    """A new column of summary.csv or rd.csv is either a measure with an entry in stdo.measures or says what a row
    is (measures.DESCRIPTIVE); the legends and the comparison's titles render the registry's conventions."""
    for name in ("s.csv", "rd.csv"):
        columns = pd.read_csv(outputs[name]).columns
        assert [c for c in columns if not measures.known(c)] == [], name
    comparison = markdown(outputs["c.md"])
    assert f"**PSNR-Y, evaluation frames (dB): {measures.measure('psnr_frame_y').convention}**" in comparison
    assert f"- {measures.describe('vmaf_neg')}" in comparison  # the rate-distortion legend
    assert measures.describe("BD-rate") in comparison


def test_comparison_has_methods_as_rows_and_scales_as_columns(outputs):
    text = markdown(outputs["c.md"])
    assert "| method | v x2 | v x4 |" in text  # scales in order, whatever the row order
    assert "| stdo | 36.50 | 32.18 |" in text and "| bicubic | - | 30.12 |" in text
    assert "| stdo | 486.7 | 569.9 |" in text  # KB
    assert "Training budget (optimizer steps): stdo 1200; shared among a method's chunk models" in text


def test_bd_rates_against_the_codec_are_tabled_with_their_reasons(outputs):
    text = markdown(outputs["c.md"])
    # PSNR-Y, VMAF-NEG, VMAF; all bytes, then the stream only (0.4 x the anchor's rate)
    assert "| v | x4 | stdo | 4 vs 4 | -20.0 | -20.0 | -20.0 | -60.0 | -60.0 | -60.0 |" in text
    assert ("**Verdict.** v x4, against the codec alone: at equal quality stdo needs 20.0 % / 20.0 % fewer bits "
            "(BD-rate VMAF-NEG / PSNR-Y, every byte counted; bicubic, the player alone: no trusted value / no trusted "
            "value)") in text
    assert "| v | x4 | bicubic | 4 vs 4 | n/a (" in text and "overlap" in text
    table = pd.read_csv(outputs["rd.csv"])
    assert list(table.columns) == rd.RD_COLUMNS and len(table) == 15 and (table.rate == "lossless").sum() == 3
    assert set(table.method) == {"hr_codec", "stdo", "bicubic"}


def test_without_a_resident_base_the_tables_say_nothing_of_bases(outputs):
    assert "base" not in markdown(outputs["c.md"]).split("Rate-distortion conventions")[0]
    assert "| base |" not in markdown(outputs["s.md"])
    summary = pd.read_csv(outputs["s.csv"])
    assert set(summary["base"]) == {"none"} and summary["base_bytes"].eq(0).all()
    rd_rows = pd.read_csv(outputs["rd.csv"])
    assert rd_rows["kbps_package_with_base"].equals(rd_rows["kbps_package"])


def test_a_resident_base_is_named_and_its_bytes_counted_apart(tmp_path):
    """stdo's packages assume a 50 KB base the client holds: +80 kbit/s over this clip when it is sent too."""
    hr, points = curves()
    base = {"base": "resident x4-0123456789", "base_bytes": 50_000}
    rows = [{**r, **base, "kbps_package_with_base": r["kbps_package"] + 80} if r["method"] == "stdo" else r
            for r in points]
    lossless = [{**LOSSLESS[1], **base, "package_bytes": 10**6, "package_bytes_with_base": 10**6 + 50_000}]
    paths = []
    for i, row in enumerate(lossless + rows + hr):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(row))
    names = ["s.csv", "s.md", "c.md", "p.png", "rd.csv", "rd.png"]
    aggregate(paths[:-len(hr)], *(tmp_path / n for n in names), hr_metric_paths=paths[-len(hr):])
    comparison = markdown(tmp_path / "c.md")
    assert "| stdo | resident x4-0123456789, 50.0 KB |" in comparison
    assert ("| base | BD-rate PSNR-Y % | BD-rate VMAF-NEG % | BD-rate VMAF % | stream only: PSNR-Y % | stream only: "
            "VMAF-NEG % | stream only: VMAF % | with base: PSNR-Y % | with base: VMAF-NEG % | with base: VMAF % |"
            ) in comparison
    bd = rd.bd_table(rd.rd_table(rows + hr)).set_index("method")
    assert bd.loc["stdo", "bd_rate_rd_psnr_y"] == pytest.approx(-20.0)
    assert bd.loc["stdo", "bd_rate_rd_psnr_y_with_base"] > -20.0 + 10  # 80 kbit/s more at every point
    assert bd.loc["bicubic", "base"] == "none" and bd.loc["stdo", "base"] == base["base"]
    summary = pd.read_csv(tmp_path / "s.csv")
    assert summary.loc[0, "package_bytes_with_base"] == 10**6 + 50_000
    assert "| base | kbps_package_with_base |" in markdown(tmp_path / "s.md")


def test_plots_are_real_pngs(outputs):
    image = matplotlib.image.imread(outputs["p.png"])
    assert image.shape[0] > 300 and image.shape[1] > 800  # two panels side by side
    curves_png = matplotlib.image.imread(outputs["rd.png"])
    assert curves_png.shape[0] > 300 and curves_png.shape[1] > 800 and curves_png.std() > 0.05


def test_the_lossless_point_is_not_on_a_curve():
    _, points = curves()
    extra = rate_point("stdo", 4, "lossless", 15000.0, 45.0, 99.0)
    table = rd.rd_table(points + [extra])
    assert "lossless" not in set(rd.curves(table)[("v", 4)]["stdo"]["rate"])
    assert np.isnan(rd.bd_table(table).set_index("method").loc["stdo", "bd_rate_rd_psnr_y"])  # no anchor given


def test_a_cut_metrics_file_is_named_and_no_table_is_written(tmp_path):
    paths = []
    for i, row in enumerate(LOSSLESS):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(row))
    paths[1].write_text(json.dumps(LOSSLESS[1])[:40])  # a job killed mid-write by hand, or an editor
    names = ["s.csv", "s.md", "c.md", "p.png", "rd.csv", "rd.png"]
    with pytest.raises(InputError, match=rf"^{re.escape(str(paths[1]))}: not valid JSON"):
        aggregate(paths, *(tmp_path / n for n in names))
    assert not any((tmp_path / n).exists() for n in names)


@pytest.mark.parametrize("general_rate, says", [
    (0.9, "needs 11.1 % / 11.1 % fewer bits than the general model resident at the client: its per-video models "
          "earn their bytes."),
    (0.7, "needs 14.3 % / 14.3 % more bits than the general model resident at the client: its per-video models cost "
          "more bytes than the quality they add."),
])
def test_the_verdict_names_the_best_row_and_weighs_the_per_video_models_against_the_general_model(general_rate, says):
    hr, points = curves()
    general = [{**row, "method": "general", "kbps_package": general_rate / 0.8 * row["kbps_package"],
                "base": "x4-0123456789"} for row in points if row["method"] == "stdo"]
    [paragraph] = rd.verdict(rd.rd_table([{**r, "encoder": "libx264"} for r in hr] + points + general))
    best = "the general model resident at the client" if general_rate < 0.8 else "stdo"
    assert paragraph.startswith(f"v x4, against libx264 alone: at equal quality {best} needs")
    assert f"The best per-video method, stdo (20.0 % / 20.0 % fewer bits than the codec), {says}" in paragraph
