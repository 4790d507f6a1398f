"""Stage: the per-title ladder, i.e. the rate-quality convex hull across resolutions, and what SR adds to it.

A streaming service encodes a title at several resolutions and rates and sends, at each bandwidth, the rung that
looks best; its ladder is the upper convex hull of all its (rate, quality) points from the cheapest point to the
best one (every point on it is Pareto-optimal; a player switching between two rungs over time gets the chord between
them, linear in the rate, which is why the hull is taken on the rate itself, not its logarithm). A lower
resolution reaches the viewer upscaled: by the player (bicubic) or by SR (the general model, the per-video
methods). Three hulls per (video, quality), from the rate-distortion rows (`results/rd.csv`, lossy points only,
every byte of the package counted):

- hr: the HR encodes alone (the codec's own ladder at full resolution, `hr_codec`);
- bicubic: hr plus every LR rate point of every scale upscaled by the player: today's per-title ladder;
- sr: bicubic plus the same LR points upscaled by SR (every other row): the ladder with SR at the client.

BD-rates (`stdo.rd.bd_rate_of`, with its overlap trust) of sr against bicubic (what SR adds to a modern ladder), of
sr against hr, and of bicubic against hr; and which (scale, client option) is on the sr hull in which rate range."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .io import atomic_path, save_png, save_text
from .measures import legend
from .rd import ANCHOR, QUALITIES, VERDICT_QUALITIES, as_bits, bd_cell, bd_rate_of
from .report.document import Note, Table, markdown
from .vocabulary import LOSSLESS

HULLS = {"hr": "HR alone", "bicubic": "HR + bicubic rungs", "sr": "HR + bicubic + SR rungs"}
PAIRS = [("sr", "bicubic"), ("sr", "hr"), ("bicubic", "hr")]  # (test, anchor)
RATE = "kbps_package"


def upper_hull(rate, quality) -> np.ndarray:
    """Indices of the points on the upper convex hull of (rate, quality) from the cheapest point to the best one, by
    increasing rate: every rung of a per-title ladder. Of points with equal rate only the best can be on it."""
    x, y = np.asarray(rate, dtype=float), np.asarray(quality, dtype=float)
    order = np.lexsort((-y, x))  # by rate, the best first at equal rate
    best = int(np.argmax(y[order] == y.max()))  # the cheapest of the best points ends the ladder
    hull: list[int] = []
    for i in order[:best + 1]:
        if hull and x[i] == x[hull[-1]]:
            continue
        while len(hull) >= 2 and _turns_up(x, y, hull[-2], hull[-1], i):
            hull.pop()
        hull.append(int(i))
    return np.asarray(hull, dtype=int)


def _turns_up(x, y, a: int, b: int, c: int) -> bool:
    """Whether b lies on or below the chord from a to c (the hull drops it)."""
    return (x[b] - x[a]) * (y[c] - y[a]) - (y[b] - y[a]) * (x[c] - x[a]) >= 0


def rungs(rows: pd.DataFrame, video: str) -> dict[str, pd.DataFrame]:
    """The points each hull may use for one video: {hr, bicubic, sr} (see the module docstring)."""
    lossy = rows[(rows["video"] == video) & (rows["rate"] != LOSSLESS)].dropna(subset=[RATE])
    hr = lossy[lossy["method"] == ANCHOR].assign(scale=1)
    bicubic = pd.concat([hr, lossy[lossy["method"] == "bicubic"]])
    return {"hr": hr, "bicubic": bicubic, "sr": pd.concat([bicubic, lossy[~lossy["method"].isin([ANCHOR, "bicubic"])]])}


def on_hulls(rows: pd.DataFrame) -> pd.DataFrame:
    """Every point of every hull, per (video, quality): video, quality, hull, scale, method, rate, kbps, value."""
    records = []
    for video in rows["video"].unique():
        for quality in QUALITIES:
            for name, points in rungs(rows, video).items():
                points = points.dropna(subset=[quality]).reset_index(drop=True)
                if not len(points):
                    continue
                for i in upper_hull(points[RATE], points[quality]):
                    p = points.iloc[i]
                    records.append({"video": video, "quality": quality, "hull": name, "scale": int(p["scale"]),
                                    "method": p["method"], "rate": p["rate"], "kbps": p[RATE], "value": p[quality]})
    return pd.DataFrame(records, columns=["video", "quality", "hull", "scale", "method", "rate", "kbps", "value"])


def bd_rates(points: pd.DataFrame) -> pd.DataFrame:
    """BD-rate of each hull pair (PAIRS) per (video, quality), with why it is n/a."""
    records = []
    for (video, quality), hulls in points.groupby(["video", "quality"], sort=False):
        curve = {name: h.rename(columns={"kbps": RATE, "value": quality}) for name, h in hulls.groupby("hull")}
        for test, anchor in PAIRS:
            value, why = (bd_rate_of(curve[anchor], curve[test], quality) if {test, anchor} <= set(curve)
                          else (float("nan"), "a ladder without points"))
            records.append({"video": video, "quality": QUALITIES[quality], "test": HULLS[test],
                            "anchor": HULLS[anchor], "bd_rate": value, "why": why})
    return pd.DataFrame(records)


def verdict(rows: pd.DataFrame) -> list[str]:
    """One sentence per video for the printed verdict: what the SR rungs add to the per-title ladder that already has
    the player's bicubic rungs, on the verdict's measures."""
    bd = bd_rates(on_hulls(rows))
    if bd.empty:
        return []
    said = []
    for video, part in bd[bd["test"].eq(HULLS["sr"]) & bd["anchor"].eq(HULLS["bicubic"])].groupby("video", sort=False):
        by_quality = dict(zip(part["quality"], part["bd_rate"]))
        values = [by_quality.get(QUALITIES[q], float("nan")) for q in VERDICT_QUALITIES]
        said.append(f"{video}, as rungs of a per-title ladder that already has every scale's LR upscaled by the player "
                    f"(results/hull.md): the SR rungs need {as_bits(values)} (VMAF-NEG / PSNR-Y).")
    return said


def ladder(points: pd.DataFrame) -> pd.DataFrame:
    """The rungs of the sr hull: which (scale, client option) serves which rate range, per (video, quality)."""
    sr = points[points["hull"] == "sr"].sort_values(["video", "quality", "kbps"], kind="stable")
    rows = []
    for (video, quality), rungs_ in sr.groupby(["video", "quality"], sort=False):
        option = [("HR" if s == 1 else f"x{s} {m}") for s, m in zip(rungs_["scale"], rungs_["method"])]
        starts = rungs_["kbps"].tolist()
        for i, name in enumerate(option):
            if i and name == option[i - 1]:
                continue
            end = next((starts[j] for j in range(i + 1, len(option)) if option[j] != name), None)
            rows.append({"video": video, "quality": QUALITIES[quality], "rung": name,
                         "from kbit/s": f"{starts[i]:.0f}", "to kbit/s": "-" if end is None else f"{end:.0f}"})
    return pd.DataFrame(rows)


def plot(rows: pd.DataFrame, points: pd.DataFrame, out) -> None:
    """Every lossy point and the three hulls, one panel per (video, quality)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # only the stage that draws pays for the import

    panels = list(points.groupby(["video", "quality"], sort=False)) or [((None, None), points)]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 4.2 * len(panels)), squeeze=False)
    for ax, ((video, quality), hulls) in zip(axes[:, 0], panels):
        if video is None:
            ax.set_title("no lossy rate point: no ladder")
            continue
        every = rungs(rows, video)["sr"].dropna(subset=[quality])
        for (scale, method), group in every.groupby(["scale", "method"], sort=False):
            name = "HR" if method == ANCHOR else f"x{scale} {method}"
            ax.scatter(group[RATE], group[quality], s=14, alpha=0.5, label=name)
        for name, style in (("hr", "k-"), ("bicubic", "C7--"), ("sr", "C3-")):
            line = hulls[hulls["hull"] == name].sort_values("kbps")
            ax.plot(line["kbps"], line["value"], style, linewidth=1.8, label=f"hull: {HULLS[name]}")
        ax.set_xscale("log")
        ax.set(title=f"{video}: per-title ladders", xlabel="kbit/s delivered (every byte of the package)",
               ylabel=QUALITIES[quality])
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save_png(fig, out)


def hull(rd_path, out_csv, out_md, out_plot) -> pd.DataFrame:
    """results/hull.{csv,md,png} from results/rd.csv (the aggregate's rate-distortion rows)."""
    rows = pd.read_csv(rd_path)
    points = on_hulls(rows)
    with atomic_path(out_csv) as tmp:
        points.to_csv(tmp, index=False, float_format="%.4f")
    bd = bd_rates(points)
    shown = bd.assign(**{"BD-rate %": [bd_cell(v, w) for v, w in zip(bd.get("bd_rate", []), bd.get("why", []))]})
    blocks = [Table(shown.drop(columns=["bd_rate", "why"], errors="ignore"),
                    "Per-title ladders: BD-rate of one convex hull against another"),
              Note("Each hull is the upper convex hull of (kbit/s, quality) over its points, lossy rate points "
                   "only. Negative = the test ladder needs fewer bits for the same quality. Conventions:",
                   legend([RATE, *QUALITIES, "BD-rate"])),
              Table(ladder(points), "The SR ladder's rungs: which (scale, client option) serves which rates")]
    save_text(markdown(blocks), out_md)
    plot(rows, points, out_plot)
    return points
