"""BD-rate / BD-quality: hand-checked cases, published worked examples, undefined cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from stdo import bdrate
from stdo.bdrate import bd_quality, bd_quality_reason, bd_rate, bd_rate_reason

METHODS = ("pchip", "cubic")

# A plain 4-point anchor, listed from the highest rate down as the CTC sheets list them.
RATE = [8000.0, 4000.0, 2000.0, 1000.0]
PSNR = [39.5, 37.5, 35.0, 32.0]


# -- 1. hand-checked ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("factor, expected", [(0.9, -10.0), (1.25, 25.0), (1.0, 0.0)])
def test_scaled_rates_give_the_scale(method, factor, expected):
    # log10(factor * r) = log10(r) + log10(factor) at every quality: the fit shifts by that
    # constant, so d = log10(factor) and BD-rate = (factor - 1) * 100.
    test_rate = [r * factor for r in RATE]
    assert bd_rate(RATE, PSNR, test_rate, PSNR, method=method) == pytest.approx(expected, abs=1e-9)
    assert bd_rate_reason(RATE, PSNR, test_rate, PSNR, method=method) is None


@pytest.mark.parametrize("method", METHODS)
def test_quality_shift_gives_the_shift(method):
    shifted = [q + 1.0 for q in PSNR]
    assert bd_quality(RATE, PSNR, RATE, shifted, method=method) == pytest.approx(1.0, abs=1e-9)
    assert bd_quality(RATE, shifted, RATE, PSNR, method=method) == pytest.approx(-1.0, abs=1e-9)
    assert bd_quality_reason(RATE, PSNR, RATE, shifted, method=method) is None
    assert bd_rate(RATE, PSNR, RATE, shifted, method=method) < 0  # better quality: fewer bits


@pytest.mark.parametrize("method", METHODS)
def test_partial_overlap_on_a_straight_line(method):
    # Anchor: log10(r) = 1 + 0.1 q (q = 30, 32, 34, 36, 38). Both fits reproduce a straight line
    # exactly (PCHIP: all secants equal 0.1, so every slope is 0.1; cubic: the line is a cubic).
    # Test: the anchor moved up 1 dB, log10(r) = 1 + 0.1 (q - 1). Shared quality range [31, 38]
    # (7 dB of the 8), difference -0.1 everywhere: BD-rate = (10**-0.1 - 1) * 100 = -20.567...%.
    # On the rate axis the rates are the same, so all of [4.0, 4.8] is shared: quality +1 dB.
    q = np.arange(30.0, 40.0, 2.0)
    rate = 10.0 ** (1 + 0.1 * q)
    expected = (10.0 ** -0.1 - 1.0) * 100.0
    assert bd_rate(rate, q, rate, q + 1, method=method) == pytest.approx(expected, abs=1e-9)
    assert bd_quality(rate, q, rate, q + 1, method=method) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_point_order_does_not_matter(method):
    test_rate, test_psnr = [1100.0, 2100.0, 3900.0, 7500.0], [32.3, 35.2, 37.4, 39.6]
    forward = bd_rate(RATE, PSNR, test_rate, test_psnr, method=method)
    shuffled = bd_rate(RATE[::-1], PSNR[::-1], test_rate[2:] + test_rate[:2],
                       test_psnr[2:] + test_psnr[:2], method=method)
    assert shuffled == pytest.approx(forward, abs=1e-12)


# -- 2. published worked examples --------------------------------------------------------------

# PCHIP (the JCT-VC CTC spreadsheet's piecewise cubic): Netflix/vmaf,
# python/test/bd_rate_calculator_test.py, class BDrateCalculatorJCTVCTest; their calculator is
# documented as "validated against JCTVC-E137". Points (rate, PSNR); published BD-rates are
# fractions, -0.00465215420752807 and -0.018779823450567612, i.e. -0.4652 % and -1.8780 % (they
# assert 4 decimals of the fraction; we match to ~1e-12).
JCTVC_E137 = [
    ([(108048.8736, 43.6471), (61279.976, 40.3953), (33905.6656, 37.247), (18883.6928, 34.2911)],
     [(108061.2784, 43.6768), (61299.9936, 40.4232), (33928.7472, 37.2761), (18910.912, 34.3147)],
     -0.465215420752807),
    ([(40433.8848, 37.5761), (7622.7456, 35.3756), (2394.488, 33.8977), (1017.6184, 32.0603)],
     [(40370.12, 37.5982), (7587.0024, 35.4025), (2390.0944, 33.9194), (1017.0984, 32.0822)],
     -1.8779823450567612),
]


@pytest.mark.parametrize("anchor, test, expected", JCTVC_E137)
def test_pchip_matches_published_jctvc_e137_examples(anchor, test, expected):
    (ra, qa), (rb, qb) = zip(*anchor), zip(*test)
    assert bd_rate(ra, qa, rb, qb, method="pchip") == pytest.approx(expected, abs=1e-8)


# Cubic polynomial (VCEG-M33): tbr/bjontegaard_cpp, example.cpp (a C++ port of ETRO's VCEG-M33
# compliant Excel add-in, tbr/bjontegaard_etro), which asserts to 6 decimals:
# - "VCEG-M33 numbers", 4 points: BD-SNR 0.800713 dB, BD-BR -13.261773 %;
# - "ETRO barb512 numbers", 9 points (least-squares cubic): BD-SNR 0.072297 dB, BD-BR -0.903450 %.
VCEG_M33_A = [(90.33, 27.95), (181.03, 31.17), (332.99, 34.44), (547.79, 38.11)]
VCEG_M33_B = [(127.1719, 29.9286), (186.14, 32.4165), (307.2924, 34.7013), (481.5588, 37.4561)]
ETRO_A = [(2.99899, 48.6681), (1.99884, 43.8357), (1.49673, 41.3982), (0.99707, 38.0124),
          (0.745941, 35.5122), (0.596436, 33.8673), (0.495148, 32.6658), (0.29425, 29.4505),
          (0.244049, 28.484)]
ETRO_B = [(2.997253, 48.5637), (1.968292, 43.7318), (1.472565, 41.2727), (0.994965, 38.0001),
          (0.748871, 35.6375), (0.58902, 33.9057), (0.499176, 32.8318), (0.296753, 29.6851),
          (0.249634, 28.8244)]


@pytest.mark.parametrize("anchor, test, bd_snr, bd_br", [
    (VCEG_M33_A, VCEG_M33_B, 0.800713, -13.261773),
    (ETRO_A, ETRO_B, 0.072297, -0.903450),
])
def test_cubic_matches_published_vceg_m33_examples(anchor, test, bd_snr, bd_br):
    (ra, qa), (rb, qb) = zip(*anchor), zip(*test)
    assert round(bd_quality(ra, qa, rb, qb, method="cubic"), 6) == bd_snr
    assert round(bd_rate(ra, qa, rb, qb, method="cubic"), 6) == bd_br


# -- 3. undefined ------------------------------------------------------------------------------

def _undefined(anchor, test, method="pchip", quality=False):
    args = (*anchor, *test)
    value = (bd_quality if quality else bd_rate)(*args, method=method)
    reason = (bd_quality_reason if quality else bd_rate_reason)(*args, method=method)
    assert math.isnan(value)
    assert isinstance(reason, str)
    return reason


@pytest.mark.parametrize("quality", [False, True])
@pytest.mark.parametrize("test, method, words", [
    (([1000.0], [32.0]), "pchip", "needs at least 2"),
    ((RATE[:3], PSNR[:3]), "cubic", "needs at least 4"),
    (([8000.0, 4000.0, float("nan"), 1000.0], PSNR), "pchip", "NaN"),
    ((RATE, [39.5, float("nan"), 35.0, 32.0]), "cubic", "NaN"),
    (([8000.0, 4000.0, 2000.0, 0.0], PSNR), "pchip", "not positive"),
    (([8000.0, 4000.0, -2000.0, 1000.0], PSNR), "cubic", "not positive"),
    ((RATE, [39.5, 37.5, 37.5, 32.0]), "pchip", "duplicate quality"),
    ((RATE, [37.5, 39.5, 35.0, 32.0]), "pchip", "does not strictly increase"),  # dips at 8000
    (([8000.0, 4000.0, 4000.0, 1000.0], PSNR), "cubic", "does not strictly increase"),
])
def test_bad_curve_is_nan_with_reason(test, method, words, quality):
    reason = _undefined((RATE, PSNR), test, method, quality)
    assert words in reason and reason.startswith("test")


@pytest.mark.parametrize("method", METHODS)
def test_no_overlap_is_nan_with_reason(method):
    higher = [q + 10.0 for q in PSNR]  # 42..49.5 dB against 32..39.5 dB
    assert "quality ranges" in _undefined((RATE, PSNR), (RATE, higher), method)
    # Touching ranges (one shared end point) give an empty interval: also undefined.
    touching = [q + 7.5 for q in PSNR]
    assert "do not overlap" in _undefined((RATE, PSNR), (RATE, touching), method)
    # On the rate axis: rates 100x higher share no log-rate interval.
    faster = [r * 100 for r in RATE]
    assert "rate ranges" in _undefined((RATE, PSNR), (faster, PSNR), method, quality=True)


def test_bad_calls_raise():
    with pytest.raises(ValueError, match="method"):
        bd_rate(RATE, PSNR, RATE, PSNR, method="akima")
    with pytest.raises(ValueError, match="same length"):
        bd_rate(RATE, PSNR[:3], RATE, PSNR)


def test_the_overlap_says_how_far_a_bd_rate_can_be_trusted():
    anchor = [30.0, 33.0, 36.0, 39.0]
    overlap, thin = bdrate.bd_rate_trust(anchor, [31.0, 34.0, 37.0])
    assert overlap == {"share_anchor": 0.667, "share_test": 1.0, "anchor_inside": 2, "test_inside": 3} and thin is None
    # inside one anchor segment, an eighth of the test's range: as the +192 % of SVT-AV1 in issue 26
    overlap, thin = bdrate.bd_rate_trust(anchor, [38.0, 40.0, 42.0, 46.0])
    assert overlap["anchor_inside"] == 1 and overlap["share_test"] == 0.125
    assert thin == ("overlap 11% of the anchor's quality range, 12% of the test's quality range, 1 anchor point "
                    "inside, 1 test point inside")
    assert bdrate.bd_rate_trust(anchor, [40.0, 41.0])[0]["share_test"] == 0.0
