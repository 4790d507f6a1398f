"""Bjontegaard delta rate and delta quality between two rate-quality curves.

Definition (G. Bjontegaard, VCEG-M33, 2001). Each curve is a set of (rate, quality) points: rate in
bits, kbit/s, bpp, ... (any positive unit, the same for both curves), quality in dB PSNR, VMAF, ...

- BD-rate: fit log10(rate) as a function of quality on each curve, integrate both fits over the
  quality interval the curves share, [max(min qA, min qB), min(max qA, max qB)], and take the mean
  difference d = (integral_B - integral_A) / (interval length). BD-rate = (10**d - 1) * 100 %.
- BD-quality (BD-PSNR when quality is PSNR): fit quality as a function of log10(rate), integrate
  over the shared log-rate interval, mean difference B - A, in the quality's unit (dB for PSNR).

Sign convention: A is the anchor, B the test. A negative BD-rate means the test needs fewer bits for
the same quality (-10.0 = 10 % fewer); a positive BD-quality means the test has higher quality at
the same rate. The log base does not matter: the mean is taken and undone in the same base.

Fits (`method`):

- "pchip" (default): the "piecewise cubic" of the JCT-VC / JVET common test condition spreadsheets
  (those of JCTVC-L1100 and JVET-T2010, for example). A piecewise cubic Hermite interpolant through
  the points sorted by the abscissa, with the Fritsch-Carlson slopes of MATLAB's `pchip`: at an
  inner point the weighted harmonic mean of the two neighbouring secant slopes, at the two ends
  the one-sided three-point formula, clipped to keep the shape (zero if its sign differs from the
  end secant, at most 3x the end secant where the secants change sign). That is exactly
  scipy.interpolate.PchipInterpolator, integrated exactly (it is a cubic on each interval). It goes
  through every point, is monotone between them (no overshoot), and needs at least 2 points (with 2
  it is a straight line).
- "cubic": the original VCEG-M33 fit, one third-order polynomial (numpy.polyfit) through the points,
  integrated with its antiderivative. VCEG-M33 uses exactly 4 points, where the cubic interpolates;
  with more points it is the least-squares cubic (as in the ETRO / "arbitrary number of points"
  implementations). It needs at least 4 points and can overshoot between far-apart points.

The integral never leaves the range of either curve, so there is no extrapolation.

How far to trust a BD-rate (`bd_rate_trust`): the integral covers only the quality interval the curves share, so a
value integrated over a sliver of one curve, or inside a single segment between two points of the anchor, rests on
the fit's shape, not on measurements. The overlap is reported as the share of each curve's quality range inside
the shared interval and the number of each curve's points inside it; a BD-rate counts as reliable when both
shares are at least MIN_SHARE and each curve has at least MIN_INSIDE points inside.

Undefined results are float('nan'); `bd_rate_reason` / `bd_quality_reason` (same arguments) say
why, or return None when the value is defined. Reasons: a curve with fewer points than the method
needs, a NaN or infinite value, a rate that is not positive, a curve whose quality does not strictly
increase with rate (duplicate qualities or rates, or quality falling as rate rises; this is required
of both methods), and curves whose intervals do not overlap (or only touch). Malformed calls (an
unknown method, rate and quality of different lengths, not 1-D) raise ValueError instead.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

METHODS = ("pchip", "cubic")
MIN_SHARE = 0.3  # of each curve's quality range inside the shared interval, for a reliable BD-rate
MIN_INSIDE = 2  # points of each curve inside the shared interval (at least one whole segment of each)
MIN_POINTS = {"pchip": 2, "cubic": 4}

Curve = tuple[np.ndarray, np.ndarray]  # (log10 rate, quality), sorted by quality


def bd_rate(anchor_rate: Sequence[float], anchor_quality: Sequence[float],
            test_rate: Sequence[float], test_quality: Sequence[float], *,
            method: str = "pchip") -> float:
    """BD-rate of the test curve against the anchor in percent (negative: test needs fewer bits)."""
    return _bd(anchor_rate, anchor_quality, test_rate, test_quality, method, "rate")[0]


def bd_quality(anchor_rate: Sequence[float], anchor_quality: Sequence[float],
               test_rate: Sequence[float], test_quality: Sequence[float], *,
               method: str = "pchip") -> float:
    """BD-quality (BD-PSNR for PSNR) of the test curve against the anchor, in the quality's unit."""
    return _bd(anchor_rate, anchor_quality, test_rate, test_quality, method, "quality")[0]


def bd_rate_reason(anchor_rate: Sequence[float], anchor_quality: Sequence[float],
                   test_rate: Sequence[float], test_quality: Sequence[float], *,
                   method: str = "pchip") -> str | None:
    """Why `bd_rate` with these arguments is NaN, or None when it is defined."""
    return _bd(anchor_rate, anchor_quality, test_rate, test_quality, method, "rate")[1]


def bd_quality_reason(anchor_rate: Sequence[float], anchor_quality: Sequence[float],
                      test_rate: Sequence[float], test_quality: Sequence[float], *,
                      method: str = "pchip") -> str | None:
    """Why `bd_quality` with these arguments is NaN, or None when it is defined."""
    return _bd(anchor_rate, anchor_quality, test_rate, test_quality, method, "quality")[1]


def bd_rate_trust(anchor_quality: Sequence[float], test_quality: Sequence[float]) -> tuple[dict, str | None]:
    """The overlap a BD-rate is integrated over ({share_anchor, share_test, anchor_inside, test_inside}) and why it is
    too thin to trust (None: it is not; see the module docstring)."""
    qa, qb = (np.asarray(q, dtype=float) for q in (anchor_quality, test_quality))
    lo, hi = max(qa.min(), qb.min()), min(qa.max(), qb.max())
    overlap = {"share_anchor": 0.0, "share_test": 0.0, "anchor_inside": 0, "test_inside": 0}
    if lo < hi:
        for name, q in (("anchor", qa), ("test", qb)):
            span = q.max() - q.min()
            overlap[f"share_{name}"] = round(float((hi - lo) / span), 3) if span > 0 else 0.0
            overlap[f"{name}_inside"] = int(((q >= lo) & (q <= hi)).sum())
    thin = [f"{overlap[f'share_{n}']:.0%} of the {n}'s quality range" for n in ("anchor", "test")
            if overlap[f"share_{n}"] < MIN_SHARE]
    thin += [f"{overlap[f'{n}_inside']} {n} point{'s' * (overlap[f'{n}_inside'] != 1)} inside"
             for n in ("anchor", "test") if overlap[f"{n}_inside"] < MIN_INSIDE]
    return overlap, ("overlap " + ", ".join(thin)) if thin else None


def _bd(anchor_rate, anchor_quality, test_rate, test_quality, method: str,
        kind: str) -> tuple[float, str | None]:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    curves = []
    for name, rate, quality in (("anchor", anchor_rate, anchor_quality),
                                ("test", test_rate, test_quality)):
        curve, reason = _curve(name, rate, quality, MIN_POINTS[method])
        if reason is not None:
            return math.nan, reason
        curves.append(curve)
    (log_rate_a, quality_a), (log_rate_b, quality_b) = curves
    if kind == "rate":  # abscissa quality, ordinate log10(rate)
        a, b = (quality_a, log_rate_a), (quality_b, log_rate_b)
    else:               # abscissa log10(rate), ordinate quality
        a, b = (log_rate_a, quality_a), (log_rate_b, quality_b)
    lo, hi = float(max(a[0][0], b[0][0])), float(min(a[0][-1], b[0][-1]))
    if not lo < hi:
        axis = "quality" if kind == "rate" else "rate"
        return math.nan, f"the {axis} ranges of anchor and test do not overlap"
    mean_diff = (_integral(*b, lo, hi, method) - _integral(*a, lo, hi, method)) / (hi - lo)
    if kind == "rate":
        return (10.0 ** mean_diff - 1.0) * 100.0, None
    return mean_diff, None


def _curve(name: str, rate, quality, min_points: int) -> tuple[Curve | None, str | None]:
    """(log10 rate, quality) sorted by quality, or the reason the curve cannot be used."""
    rate = np.asarray(rate, dtype=float)
    quality = np.asarray(quality, dtype=float)
    if rate.ndim != 1 or rate.shape != quality.shape:
        raise ValueError(f"{name}: rate and quality must be 1-D sequences of the same length, "
                         f"got shapes {rate.shape} and {quality.shape}")
    if len(rate) < min_points:
        return None, f"{name} curve has {len(rate)} points, needs at least {min_points}"
    if not (np.isfinite(rate).all() and np.isfinite(quality).all()):
        return None, f"{name} curve has NaN or infinite values"
    if (rate <= 0).any():
        return None, f"{name} curve has a rate that is not positive"
    order = np.argsort(quality, kind="stable")
    rate, quality = rate[order], quality[order]
    if (np.diff(quality) <= 0).any():
        return None, f"{name} curve has duplicate quality values"
    if (np.diff(rate) <= 0).any():
        return None, f"{name} curve's quality does not strictly increase with rate"
    return (np.log10(rate), quality), None


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    """Integral over [lo, hi] (inside [x[0], x[-1]]) of the fit of y against increasing x."""
    if method == "pchip":
        # imported here: stdo.measures reads this module's thresholds in every evaluate job, and scipy.interpolate
        # costs those jobs 0.37 s of imports they never use
        from scipy.interpolate import PchipInterpolator

        return float(PchipInterpolator(x, y).integrate(lo, hi))
    # Same least-squares cubic as in x itself, fitted in x - centre for conditioning.
    centre = float(np.mean(x))
    antiderivative = np.polyint(np.polyfit(x - centre, y, 3))
    return float(np.polyval(antiderivative, hi - centre) - np.polyval(antiderivative, lo - centre))
