"""The per-title ladder (stdo.hull): the upper convex hull of hand-made points whose front is known, and the three
ladders and their BD-rates on a rate-distortion table made by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd

from stdo import hull


def test_the_hull_keeps_the_concave_upper_front_from_the_cheapest_to_the_best_point():
    rate = [100, 200, 400, 800, 300, 250, 1600, 200, 800]
    quality = [30, 34, 36, 37, 31, 34.4, 36.5, 33, 37]
    # 300 (31 dB) is dominated; 250 (34.4) is Pareto-optimal but under the chord 200-400 (34.5 dB there); 1600 is
    # past the best point; the second 200 is worse than the first at the same rate, the second 800 equal to the first
    assert hull.upper_hull(rate, quality).tolist() == [0, 1, 2, 3]
    assert hull.upper_hull([100, 200, 400], [30, 30.5, 40]).tolist() == [0, 2]  # 200 lies under the chord
    assert hull.upper_hull([100], [30]).tolist() == [0]


def rd_rows() -> pd.DataFrame:
    """HR at 4 rates, x2 LR at 4 rates upscaled by bicubic and by the general model: SR wins at the low rates."""
    rows = []
    for rate, kbps, value in zip(("crf22", "crf28", "crf34", "crf40"), (2000, 1000, 500, 250), (44, 40, 35, 29)):
        rows.append({"video": "v", "scale": 4, "method": "hr_codec", "rate": rate, "kbps_package": kbps,
                     "rd_psnr_y": value, "vmaf_neg": 2 * value, "vmaf": 2 * value})
    for method, gain in (("bicubic", 0.0), ("general", 2.5)):
        for rate, kbps, value in zip(("crf22", "crf28", "crf34", "crf40"), (600, 300, 150, 75), (35, 33, 30, 26)):
            rows.append({"video": "v", "scale": 2, "method": method, "rate": rate, "kbps_package": kbps + 1,
                         "rd_psnr_y": value + gain, "vmaf_neg": 2 * (value + gain), "vmaf": 2 * (value + gain)})
    rows.append({"video": "v", "scale": 2, "method": "general", "rate": "lossless", "kbps_package": 9000,
                 "rd_psnr_y": 50, "vmaf_neg": 100, "vmaf": 100})  # lossless LR is never a rung
    return pd.DataFrame(rows)


def test_three_ladders_their_rungs_and_what_sr_adds(tmp_path):
    rd = tmp_path / "rd.csv"
    rd_rows().to_csv(rd, index=False)
    points = hull.hull(rd, tmp_path / "hull.csv", tmp_path / "hull.md", tmp_path / "hull.png")
    y = points[points["quality"] == "rd_psnr_y"]
    assert set(y[y.hull == "hr"].method) == {"hr_codec"} and len(y[y.hull == "hr"]) == 4
    sr = y[y.hull == "sr"].sort_values("kbps")
    assert sr.method.iloc[0] == "general" and sr.method.iloc[-1] == "hr_codec" and "bicubic" not in set(sr.method)
    assert "lossless" not in set(points.rate)
    bd = hull.bd_rates(points).set_index(["quality", "test", "anchor"])["bd_rate"]
    sr_vs_bicubic = bd[("PSNR-Y dB", hull.HULLS["sr"], hull.HULLS["bicubic"])]
    assert np.isfinite(sr_vs_bicubic) and sr_vs_bicubic < 0
    text = (tmp_path / "hull.md").read_text()
    assert "x2 general" in text and "HR" in text and (tmp_path / "hull.png").stat().st_size > 0
    assert len(pd.read_csv(tmp_path / "hull.csv")) == len(points)


def test_the_verdict_says_what_the_sr_rungs_add_to_the_ladder_per_video():
    rows = rd_rows()
    bd = hull.bd_rates(hull.on_hulls(rows)).set_index(["quality", "test", "anchor"])["bd_rate"]
    pair = (hull.HULLS["sr"], hull.HULLS["bicubic"])
    vmaf_neg, psnr_y = bd[("VMAF-NEG", *pair)], bd[("PSNR-Y dB", *pair)]
    assert vmaf_neg < 0 and psnr_y < 0
    [sentence] = hull.verdict(rows)
    assert sentence.startswith("v, as rungs of a per-title ladder that already has every scale's LR upscaled")
    assert sentence.endswith(f"the SR rungs need {abs(vmaf_neg):.1f} % / {abs(psnr_y):.1f} % fewer bits "
                             "(VMAF-NEG / PSNR-Y).")
    assert hull.verdict(rows[rows["rate"] == "lossless"]) == []  # no lossy point, no ladder, nothing said
