"""The client's frame rate against the model alone, on the bundled clip at x4 (1280x720 output).

Builds two packages of the real clip (LR stream through x264 at crf 23): `m0` (one ESPCN for every
patch) and `stdo` (four ESPCNs and the chunk map, k = 4), then measures, in the same run and with the
same threads:
- model only: the forward pass alone on the patches of every frame, pre-cut and pre-converted,
  in the batches the client uses (the ceiling);
- client: `stdo.delivery.player.upscale` (decode the stream, cut, route, super-resolve, stitch);
- play: the whole `stdo play` (the client plus writing x264 veryfast output), as evaluated (the default playback);
- evaluate: the whole evaluate stage (the client, then PSNR, SSIM and VMAF of every frame and the
  papers' per-patch and evaluation-frame scores), as the workflow runs it (the default playback), and with
  `vmaf_subsample: 4` (VMAF and SSIM on every 4th frame);
for the torch runtime in fp32 and bf16 and ONNX Runtime (fp32), the default (the manifest's playback: torch,
precision auto) marked. For each runtime, how its frames differ from ONNX Runtime fp32's (the runtime every
experiment before the default changed was evaluated with): the share of equal 8-bit values, the largest
difference, and PSNR-Y against HR (BT.601 studio range, whole frames, shave 4, PSNR of the mean MSE). Weights
are random (a trained model runs at the same speed; the frame differences of trained models are in docs/results.md).

    python benchmarks/client_fps.py [--threads 2] [--frames 132] [--repeats 2] [--pad 0]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from stdo import codec, models, package
from stdo.cluster import cluster
from stdo.delivery.manifest import open_package
from stdo.delivery.play import play
from stdo.delivery.player import batches, cut_with_context, grid_of, load_models, playback, upscale
from stdo.evaluate import evaluate
from stdo.infer import machine_line
from stdo.ingest import ingest
from stdo.label import label
from stdo.metrics import mse, psnr, rgb_to_y
from stdo.sources import bundled_clip


def build_packages(work: Path, frames: int, pad: int) -> dict[str, Path]:
    ingest(bundled_clip(), work, [4], {4: (10, 5)}, max_frames=frames)
    models.save_checkpoint(models.build("bicubic", 4), work / "bicubic.pt", {"arch": "bicubic", "scale": 4})
    label(work / "lr_x4.npy", work / "hr.npy", work / "bicubic.pt", work / "patches.parquet", scale=4, grid=[10, 5])
    codec.encode_lr(work / "lr_x4.npy", work / "meta.json", work / "lr.mp4", work / "codec.json", rate="crf23",
                    encoder="libx264", preset="medium")
    for split, k in (("none", 1), ("stdo", 4)):
        cluster(work / "patches.parquet", work / f"{split}.parquet", work / f"{split}.json", split=split, k=k)
    checkpoints = []
    for c in range(4):
        torch.manual_seed(c)
        model = models.build("espcn", 4)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.02)
        models.save_checkpoint(model, work / f"chunk{c}.pt", {"arch": "espcn", "scale": 4})
        checkpoints.append(work / f"chunk{c}.pt")
    out = {}
    for name, split, paths in (("m0", "none", checkpoints[:1]), ("stdo", "stdo", checkpoints)):
        out[name] = work / name
        package.build(work / "lr.mp4", work / "codec.json", work / "patches.parquet", out[name], scale=4,
                      model_paths=paths, chunks_path=work / f"{split}.parquet", playback={"pad": pad})
    return out


def model_only(package_path: Path, runtime: str, precision: str, threads: int) -> float:
    """Frames/s of the models alone on the same patch batches as the client (decoded and cut before)."""
    pkg = open_package(package_path)
    m, play = pkg.manifest, playback(pkg.manifest)
    grid = grid_of(m)
    runners = load_models(pkg, runtime, "cpu", precision, threads)
    lr = np.load(package_path.parent / "lr_x4.npy")  # the ingested frames: the same shapes as decoded ones
    chunk = pkg.chunk_map() if m["routing"]["by"] == "map" else np.zeros(m["frames"] * grid.per_frame, int)
    work = []
    for f0 in range(0, m["frames"], play["block_frames"]):
        patches = cut_with_context(lr[f0:f0 + play["block_frames"]], grid, play["pad"])
        here = chunk[f0 * grid.per_frame:(f0 + play["block_frames"]) * grid.per_frame]
        work += [(m["routing"]["chunk_model"][c], patches[part]) for c, part in batches(here, play["batch"])]
    start = time.perf_counter()
    for (model, cafm), patches in work:
        runners[model](patches, cafm)
    return m["frames"] / (time.perf_counter() - start)


def client(package_path: Path, runtime: str, precision: str, threads: int) -> float:
    pkg = open_package(package_path)
    start = time.perf_counter()
    n = sum(1 for _ in upscale(pkg, runtime=runtime, precision=precision, threads=threads))
    return n / (time.perf_counter() - start)


def frames(package_path: Path, runtime: str, precision: str, threads: int) -> np.ndarray:
    return np.stack(list(upscale(open_package(package_path), runtime=runtime, precision=precision, threads=threads)))


def difference(sr: np.ndarray, reference: np.ndarray, hr: np.ndarray) -> str:
    """How `sr` differs from the reference frames: equal values, largest difference, PSNR-Y against HR."""
    def psnr_y(frames):
        return float(psnr(mse(rgb_to_y(frames), rgb_to_y(hr), 4).mean()))

    step = np.abs(sr.astype(int) - reference).max()
    return (f"{(sr == reference).mean():6.1%} equal, max {step} level(s), "
            f"PSNR-Y {psnr_y(sr) - psnr_y(reference):+.4f} dB")


def evaluation(package_path: Path, threads: int, vmaf_subsample: int = 1) -> float:
    """Frames/s of the evaluate stage on the package (its chunk table beside it, as build_packages writes)."""
    work = package_path.parent
    split = "none" if package_path.name == "m0" else "stdo"
    start = time.perf_counter()
    result = evaluate(package_path, work / "hr.npy", work / "patches.parquet", work / f"{package_path.name}.json",
                      chunks_path=work / f"{split}.parquet", threads=threads, vmaf_subsample=vmaf_subsample)
    return result["frames"] / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=132)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--pad", type=int, default=0, help="LR pixels of context per patch")
    args = ap.parse_args()
    print(machine_line("auto"))
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        packages = build_packages(Path(tmp), args.frames, args.pad)
        print(f"bigbuckbunny x4, {args.frames} frames, 1280x720 output, {args.threads} thread(s), "
              f"playback {playback({}, pad=args.pad)}, best of {args.repeats}")
        default = playback(open_package(packages["m0"]).manifest)
        print(f"default playback (the manifest's, resolved on this CPU): {default['runtime']} {default['precision']}")
        print(f"{'package':8s} {'runtime':14s} {'model only':>11s} {'client':>8s} {'ratio':>6s}   frames/s; "
              f"frames against onnx fp32's")
        hr = np.load(Path(tmp) / "hr.npy")
        for name, path in packages.items():
            reference = frames(path, "onnx", "fp32", args.threads)
            for runtime, precision in (("torch", "fp32"), ("torch", "bf16"), ("onnx", "fp32")):
                ceiling = max(model_only(path, runtime, precision, args.threads) for _ in range(args.repeats))
                rate = max(client(path, runtime, precision, args.threads) for _ in range(args.repeats))
                mark = " (default)" if (runtime, precision) == (default["runtime"], default["precision"]) else ""
                print(f"{name:8s} {runtime + ' ' + precision:14s} {ceiling:11.1f} {rate:8.1f} {rate / ceiling:6.0%}   "
                      f"{difference(frames(path, runtime, precision, args.threads), reference, hr)}{mark}")
            done = max(play(path, Path(tmp) / "sr.mp4", threads=args.threads)["fps"] for _ in range(args.repeats))
            print(f"{name:8s} {'stdo play':14s} {'':11s} {done:8.1f}          (default playback, x264 veryfast output)")
            ceiling = max(model_only(path, default["runtime"], default["precision"], args.threads)
                          for _ in range(args.repeats))
            for n in (1, 4):
                rate = max(evaluation(path, args.threads, n) for _ in range(args.repeats))
                print(f"{name:8s} {'evaluate':14s} {ceiling:11.1f} {rate:8.1f} {rate / ceiling:6.0%}"
                      f"   (default playback, every score, vmaf_subsample {n})")


if __name__ == "__main__":
    main()
