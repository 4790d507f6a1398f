"""Packages, the client that plays them and the server's evaluation of them, on frames of the real clip:
what the client shows is what the server measured."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zlib

import numpy as np
import onnx
import pandas as pd
import pytest
import torch

from stdo import codec, infer, metrics, models, package
from stdo.cluster import cluster
from stdo.delivery import stream
from stdo.delivery.manifest import file_entry, open_package
from stdo.delivery.onnx_model import as_packaged
from stdo.delivery.play import play
from stdo.delivery.player import cut_with_context, grid_of, playback, upscale
from stdo.evaluate import evaluate
from stdo.infer import super_resolve
from stdo.ingest import ingest
from stdo.label import label
from stdo.patches import Grid, cut

SMALL = {"features": [8, 8, 4]}


def trained_like(seed: int, **kwargs):
    """A small ESPCN with non-trivial weights (its tail starts at zero, so an untrained one is bicubic)."""
    torch.manual_seed(seed)
    model = models.build("espcn", 4, **kwargs)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


@pytest.fixture(scope="module")
def clip(frames_dir, tmp_path_factory):
    """Six real frames ingested, labelled, split (stdo k=2 and temporal k=2), two small models, the LR
    stream at one lossy rate point and losslessly."""
    root = tmp_path_factory.mktemp("delivery")
    ingest(frames_dir, root, [4], {4: (4, 2)})
    models.save_checkpoint(models.build("bicubic", 4), root / "bicubic.pt", {"arch": "bicubic", "scale": 4})
    label(root / "lr_x4.npy", root / "hr.npy", root / "bicubic.pt", root / "patches.parquet", scale=4, grid=[4, 2],
          eval_every=4)
    for split in ("stdo", "temporal"):
        cluster(root / "patches.parquet", root / f"{split}.parquet", root / f"{split}.json", split=split, k=2)
    for c in range(2):
        models.save_checkpoint(trained_like(c, **SMALL), root / f"chunk{c}.pt",
                               {"arch": "espcn", "scale": 4, "arch_kwargs": SMALL, "train_seconds": 1.5})
    for rate, name in (("lossless", "lossless.mkv"), ("crf30", "crf30.mp4")):
        codec.encode_lr(root / "lr_x4.npy", root / "meta.json", root / name, root / f"{rate}.json", rate=rate,
                        encoder="libx264", preset="ultrafast", fps=12.5)
    return root


def build(clip, out, rate="lossless", models_=("chunk0.pt", "chunk1.pt"), split="stdo", pad=0, **storage):
    stream_file = {"lossless": "lossless.mkv", "crf30": "crf30.mp4"}[rate]
    package.build(clip / stream_file, clip / f"{rate}.json", clip / "patches.parquet", out, scale=4,
                  playback={"pad": pad},
                  model_paths=[clip / m for m in models_], chunks_path=clip / f"{split}.parquet" if split else None,
                  meta_path=clip / "meta.json",
                  info={"method": "test", "rate": rate}, **storage)
    return out


@pytest.fixture(scope="module")
def stdo_package(clip, tmp_path_factory):
    return build(clip, tmp_path_factory.mktemp("pkg") / "package", rate="crf30")


@pytest.fixture(scope="module")
def int8_package(clip, tmp_path_factory):
    """The stdo package with int8 weights."""
    return build(clip, tmp_path_factory.mktemp("pkg") / "package", rate="crf30", weights="int8")


@pytest.fixture(scope="module")
def int8_zlib_package(clip, tmp_path_factory):
    """The stdo package with int8 weights, its model files compressed."""
    return build(clip, tmp_path_factory.mktemp("pkg") / "package", rate="crf30", weights="int8", compression="zlib")


PACKAGES = {"fp16": "stdo_package", "int8": "int8_package"}  # the fixture of each weight format


def evaluate_package(clip, folder, out):
    return evaluate(folder, clip / "hr.npy", clip / "patches.parquet", out, chunks_path=clip / "stdo.parquet",
                    model_meta_paths=[clip / "chunk0.json", clip / "chunk1.json"], threads=1)


@pytest.fixture(scope="module")
def evaluated(clip, stdo_package, tmp_path_factory):
    return evaluate_package(clip, stdo_package, tmp_path_factory.mktemp("eval") / "metrics.json")


def test_a_package_holds_exactly_what_its_manifest_lists(stdo_package):
    manifest = json.loads((stdo_package / "manifest.json").read_text())
    on_disk = {p.name for p in stdo_package.iterdir()}
    assert on_disk == {"manifest.json", *manifest["files"]} == {"manifest.json", "lr.mp4", "model0.onnx",
                                                                 "model1.onnx", "chunks.bin"}
    assert manifest["routing"]["by"] == "map" and manifest["routing"]["chunk_model"] == [[0, None], [1, None]]
    assert manifest["grid"] == {"rows": 2, "cols": 4, "patch_h": 20, "patch_w": 16}
    assert manifest["source"] == {"size": [256, 160], "crop": {"x0": 0, "y0": 0, "width": 256, "height": 160}}
    sizes = open_package(stdo_package).bytes_by_role()
    assert sizes["package_bytes"] == sum(p.stat().st_size for p in stdo_package.iterdir())
    params = models.count_params(models.build("espcn", 4, **SMALL))
    assert 2 * params < sizes["model_bytes"] / 2 < 2 * params + 20_000  # fp16 weights plus the graph


def test_routing_follows_the_split(clip, tmp_path):
    timed = json.loads((build(clip, tmp_path / "t", split="temporal") / "manifest.json").read_text())["routing"]
    assert timed["by"] == "frames" and timed["frame_starts"] == [0, 3] and "map" not in timed
    one = json.loads((build(clip, tmp_path / "o", models_=("chunk0.pt",)) / "manifest.json").read_text())["routing"]
    assert one == {"k": 1, "by": "none", "chunk_model": [[0, None]]}


@pytest.mark.parametrize("weights", PACKAGES)
def test_the_chunk_map_routes_every_patch_to_its_model(clip, request, weights):
    folder = request.getfixturevalue(PACKAGES[weights])
    chunk = pd.read_parquet(clip / "stdo.parquet").sort_values("patch_id")["chunk"].to_numpy()
    np.testing.assert_array_equal(open_package(folder).chunk_map(), chunk)
    grid = grid_of(open_package(folder).manifest)
    lr = np.stack(list(stream.decode(folder / "lr.mp4")))
    patches = cut(lr, grid)
    expected = np.empty((len(patches), 80, 64, 3), np.uint8)
    for c in range(2):
        model = models.load_checkpoint(clip / f"chunk{c}.pt")[0]
        expected[chunk == c] = super_resolve(as_packaged(model, weights), patches[chunk == c], "cpu")
    played = np.stack(list(upscale(open_package(folder), runtime="torch", precision="fp32")))
    np.testing.assert_array_equal(cut(played, grid, 4), expected)


def test_the_client_shows_exactly_the_frames_the_server_measured(stdo_package, evaluated, tmp_path):
    out = tmp_path / "sr.mkv"
    done = play(stdo_package, out, lossless=True, threads=1)
    frames = list(stream.decode(out))
    digest = hashlib.sha256(b"".join(f.tobytes() for f in frames)).hexdigest()
    assert done["sha256"] == digest == evaluated["sr_sha256"]
    assert len(frames) == 6 and frames[0].shape == (160, 256, 3) and done["playback"]["runtime"] == "torch"


@pytest.mark.parametrize("weights", PACKAGES)
def test_onnx_runtime_frames_are_within_one_level_of_torch(request, weights):
    package_ = open_package(request.getfixturevalue(PACKAGES[weights]))
    torch_frames = np.stack(list(upscale(package_, runtime="torch", precision="fp32"))).astype(int)
    onnx_frames = np.stack(list(upscale(package_, runtime="onnx"))).astype(int)
    assert np.abs(torch_frames - onnx_frames).max() <= 1  # float rounding may flip a .5 at the 8-bit rounding
    assert (torch_frames == onnx_frames).mean() > 0.999


@pytest.mark.parametrize("native, torch_runs", [(None, "fp32"), ("a CPU with AMX", "bf16")])
def test_playback_precision_auto_is_bf16_with_torch_where_the_cpu_has_native_bf16(stdo_package, monkeypatch,
                                                                                  native, torch_runs):
    monkeypatch.setattr(infer, "native_bf16", lambda device: native)
    manifest = open_package(stdo_package).manifest
    assert manifest["playback"]["precision"] == "auto"
    assert playback(manifest, "cpu", runtime="torch")["precision"] == torch_runs
    assert playback(manifest, "cpu")["precision"] == torch_runs  # the torch runtime is the default
    assert playback(manifest, "cpu", runtime="onnx")["precision"] == "fp32"  # ONNX Runtime computes fp32
    assert playback(manifest, "cpu", runtime="torch", precision="fp32")["precision"] == "fp32"


def test_an_int8_package_plays_as_evaluated_in_fewer_bytes(clip, stdo_package, int8_package, evaluated, tmp_path):
    fp16, int8 = open_package(stdo_package), open_package(int8_package)
    assert [e["weights"] for e in int8.manifest["models"]] == ["int8", "int8"]
    assert [e["weights"] for e in fp16.manifest["models"]] == ["fp16", "fp16"]
    result = evaluate_package(clip, int8_package, tmp_path / "metrics.json")
    assert play(int8_package, tmp_path / "sr.mkv", lossless=True, threads=1)["sha256"] == result["sr_sha256"]
    assert result["sr_sha256"] != evaluated["sr_sha256"]
    # 2,876 weights per model, so the graph (names, nodes) is most of either file: measured 85 % of
    # the fp16 bytes (a full-size ESPCN's int8 file is 54 %: test_onnx_model)
    assert result["stream_bytes"] == evaluated["stream_bytes"]
    assert result["model_bytes"] < 0.9 * evaluated["model_bytes"]
    assert abs(result["rd_psnr_y"] - evaluated["rd_psnr_y"]) < 0.05
    assert abs(result["psnr_stdo_patch"] - evaluated["psnr_stdo_patch"]) < 0.05


def test_a_compressed_package_plays_the_same_frames_in_fewer_bytes(clip, stdo_package, evaluated, tmp_path):
    packed = open_package(build(clip, tmp_path / "z", rate="crf30", compression="zlib"))
    assert [(e["file"], e["compression"]) for e in packed.manifest["models"]] == [
        ("model0.onnx.zlib", "zlib"), ("model1.onnx.zlib", "zlib")]
    for i in range(2):
        plain = (stdo_package / f"model{i}.onnx").read_bytes()
        assert zlib.decompress(packed.path(f"model{i}.onnx.zlib").read_bytes()) == plain
    sizes = packed.bytes_by_role()
    assert sizes["model_bytes"] == sum(packed.path(f"model{i}.onnx.zlib").stat().st_size for i in range(2))
    assert sizes["model_bytes"] < evaluated["model_bytes"]
    for runtime in ("onnx", "torch"):
        frames = [np.stack(list(upscale(open_package(p), runtime=runtime))) for p in (packed.folder, stdo_package)]
        np.testing.assert_array_equal(*frames)


# Every registered backbone at a tiny size (an architecture missing here runs at its defaults)
TINY = {"edsr": {"blocks": 1, "features": 8}, "espcn": SMALL, "fsrcnn": {"d": 8, "s": 4, "m": 1},
        "rcan": {"groups": 1, "blocks": 1, "features": 8, "reduction": 4}, "srcnn": {"features": [8, 4]},
        "vdsr": {"depth": 3, "features": 8}, "wdsr": {"blocks": 1, "features": 8, "expansion": 2}}


@pytest.mark.parametrize("weights", ["fp16", "int8"])
@pytest.mark.parametrize("arch", models.names())
def test_every_backbone_is_packaged_played_and_evaluated(clip, tmp_path, arch, weights):
    """Buffers (the RGB mean of EDSR, WDSR, RCAN) and weight-norm parametrisations included: the client's
    check counts what the graph must hold, and both runtimes play the evaluated frames."""
    kwargs = TINY.get(arch, {})
    torch.manual_seed(0)
    model = models.build(arch, 4, **kwargs)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    models.save_checkpoint(model, tmp_path / "model.pt", {"arch": arch, "scale": 4, "arch_kwargs": kwargs})
    folder = build(clip, tmp_path / "package", models_=(tmp_path / "model.pt",), split=None, weights=weights)
    result = evaluate(folder, clip / "hr.npy", clip / "patches.parquet", tmp_path / "metrics.json",
                      model_meta_paths=[tmp_path / "model.json"])
    assert result["frames"] == 6 and 5 < result["rd_psnr_y"] < 60  # untrained weights: any finite score
    assert result["total_params"] == models.count_params(model)
    assert play(folder, tmp_path / "sr.mkv", lossless=True, threads=1)["sha256"] == result["sr_sha256"]
    played = np.stack(list(upscale(open_package(folder), runtime="torch", precision="fp32")))
    grid = grid_of(open_package(folder).manifest)
    lr = np.stack(list(stream.decode(folder / "lr.mkv")))
    expected = super_resolve(as_packaged(model, weights), cut(lr, grid), "cpu")
    assert np.abs(cut(played, grid, 4).astype(int) - expected).max() <= 1


def test_evaluation_scores_every_frame_under_every_convention(clip, evaluated):
    assert evaluated["frames"] == 6 and evaluated["eval_frames"] == 2 and evaluated["k"] == 2
    assert evaluated["vmaf_model"] == "vmaf_v0.6.1" and 0 < evaluated["vmaf"] < 100
    assert 15 < evaluated["rd_psnr_y"] < 50 and 15 < evaluated["psnr_stdo_patch"] < 50
    assert evaluated["train_seconds"] == 3.0 and evaluated["models"] == 2
    assert evaluated["kbps_package"] == pytest.approx(8 * evaluated["package_bytes"] / (6 / 12.5) / 1000)
    assert evaluated["map_bits"] == 48 and evaluated["map_bytes"] > 0


def test_the_bicubic_baseline_upscales_whole_frames(clip, tmp_path):
    """A player upscales the LR stream by bicubic over whole frames, no patch seams."""
    pkg = build(clip, tmp_path / "b", models_=(), split=None)
    manifest = json.loads((pkg / "manifest.json").read_text())
    assert manifest["models"][0]["file"] is None and manifest["grid"]["rows"] == 1
    result = evaluate(pkg, clip / "hr.npy", clip / "patches.parquet", tmp_path / "m.json")
    whole = models.upsample(torch.from_numpy(np.load(clip / "lr_x4.npy")).permute(0, 3, 1, 2).float() / 255, 4,
                            "bicubic")
    sr = whole.mul(255).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    hr = np.load(clip / "hr.npy")
    assert result["rd_psnr_rgb"] == pytest.approx(float(metrics.psnr(metrics.mse(sr, hr).mean())), abs=1e-6)
    assert result["total_params"] == 0 and result["model_bytes"] == 0


def test_context_padding_removes_the_seams(clip, tmp_path):
    pkg = open_package(build(clip, tmp_path / "p", models_=("chunk0.pt",), split=None, pad=6))
    lr = np.load(clip / "lr_x4.npy")
    model = models.load_checkpoint(clip / "chunk0.pt")[0]
    whole = super_resolve(as_packaged(model), lr, "cpu").astype(int)
    padded = np.stack(list(upscale(pkg, runtime="torch"))).astype(int)
    seams = np.stack(list(upscale(pkg, runtime="torch", pad=0))).astype(int)
    inner = (slice(None), slice(24, -24), slice(24, -24))  # away from the frame border (6 LR px of context)
    assert np.abs(padded[inner] - whole[inner]).max() <= 1
    assert np.abs(seams[inner] - whole[inner]).max() > 1


def test_cut_with_context_is_cut_when_there_is_no_context(bunny):
    grid = Grid(rows=2, cols=4, patch_h=20, patch_w=16, scale=4)
    np.testing.assert_array_equal(cut_with_context(bunny[:2, :40, :64], grid, 0), cut(bunny[:2, :40, :64], grid))
    grid = Grid(rows=3, cols=3, patch_h=12, patch_w=16, scale=4)
    windows = cut_with_context(bunny[:1, :36, :48], grid, 3)
    assert windows.shape == (9, 18, 22, 3)
    np.testing.assert_array_equal(windows[:, 3:-3, 3:-3], cut(bunny[:1, :36, :48], grid))
    np.testing.assert_array_equal(windows[4], bunny[0, 9:27, 13:35])  # the centre patch: real neighbours
    np.testing.assert_array_equal(windows[0, :3, 3:-3], np.repeat(bunny[0, :1, :16], 3, axis=0))  # edge: replicated


# ---------------------------------------------------------------- the client's bad inputs


def stdo_play(*args):
    return subprocess.run([sys.executable, "-m", "stdo", "play", *map(str, args)], capture_output=True, text=True)


def broken_copy(stdo_package, tmp_path, change):
    copy = tmp_path / "package"
    shutil.copytree(stdo_package, copy)
    change(copy)
    return copy


def edit_manifest(folder, change):
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("case, change, message", [
    ("missing", lambda p: (p / "model1.onnx").unlink(), "model1.onnx: missing from the package"),
    ("modified", lambda p: flip_a_byte(p / "model0.onnx"), "model0.onnx: sha256 does not match the manifest"),
    ("version", lambda p: edit_manifest(p, lambda m: m.update(version=99)),
     "package format version 99 is not supported"),
    ("arch", lambda p: edit_manifest(p, lambda m: m["models"][0].update(arch_kwargs={})),
     "model0.onnx: espcn {} has 71056 parameters, the manifest says"),
    ("params", lambda p: edit_manifest(p, lambda m: m["models"][1].update(params=71_056)),
     "model1.onnx: holds 2,876 weights, the manifest's model (espcn {'features': [8, 8, 4]}) 71,056"),
    ("cafm", lambda p: edit_manifest(p, lambda m: m["models"][1].update(cafm_chunks=2)),
     "model1.onnx: takes no chunk input, the manifest's model"),
    ("compression", lambda p: edit_manifest(p, lambda m: m["models"][0].update(compression="lzma")),
     "model0.onnx: compression 'lzma' is not one this client reads (none, zlib)"),
])
def test_a_bad_package_ends_with_one_line_and_no_output(stdo_package, tmp_path, case, change, message):
    bad = broken_copy(stdo_package, tmp_path, change)
    out = tmp_path / "sr.mp4"
    # the ONNX graph describes itself (its weights, its inputs); the torch runtime builds the manifest's model
    runtime = {"arch": ["--runtime", "torch"], "params": ["--runtime", "onnx"], "cafm": ["--runtime", "onnx"]}
    assert_one_error_line(stdo_play(bad, "-o", out, "--threads", "1", *runtime.get(case, [])), "stdo play", message)
    assert not out.exists() and not list(tmp_path.glob(".sr*"))


def assert_one_error_line(run, command: str, message: str) -> None:
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{command}: error: ") and message in lines[0], run.stderr


def rewrite(folder, name, change):
    """Change a file of a package and its manifest entry with it, as a faulty server would: only the
    file's own format can tell."""
    path = folder / name
    path.write_bytes(change(path.read_bytes()))
    edit_manifest(folder, lambda m: m["files"].update({name: file_entry(path)}))


def flipped(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


def one_scale_short(data: bytes) -> bytes:
    proto = onnx.load_from_string(zlib.decompress(data))
    scale = next(t for t in proto.graph.initializer if t.name == "body.2.weight.scale")
    scale.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(scale)[:-1], scale.name))
    return zlib.compress(proto.SerializeToString(), 9)


@pytest.mark.parametrize("client", ["play onnx", "play torch", "evaluate"])
@pytest.mark.parametrize("change, message", [
    (lambda p: rewrite(p, "model0.onnx.zlib", flipped), "model0.onnx.zlib: corrupt zlib data (Error -3 while "),
    (lambda p: rewrite(p, "model1.onnx.zlib", one_scale_short),
     "model1.onnx.zlib: scale 'body.2.weight.scale' (7,) does not fit int8 weight 'body.2.weight' (8, 8, 3, 3)"),
], ids=["corrupt zlib", "scale too short"])
def test_a_broken_model_file_ends_with_one_line_and_no_output(clip, int8_zlib_package, tmp_path, change, message,
                                                              client):
    bad = broken_copy(int8_zlib_package, tmp_path, change)
    if client == "evaluate":
        out = tmp_path / "metrics.json"
        run = subprocess.run([sys.executable, "-m", "stdo", "evaluate", "--package-path", bad, "--hr-path",
                              clip / "hr.npy", "--patches-path", clip / "patches.parquet", "--out", out],
                             capture_output=True, text=True)
    else:
        out = tmp_path / "sr.mp4"
        run = stdo_play(bad, "-o", out, "--threads", "1", "--runtime", client.split()[1])
    assert_one_error_line(run, f"stdo {client.split()[0]}", message)
    assert not out.exists() and not list(tmp_path.glob(f".{out.name}*"))


def test_an_output_that_cannot_be_written_is_refused_before_playing(stdo_package, tmp_path):
    (tmp_path / "folder.mp4").mkdir()
    for out, message in ((tmp_path / "no" / "sr.mp4", "does not exist"), (tmp_path / "sr.avi", "must end in .mp4"),
                         (tmp_path / "folder.mp4", "a folder, not a video file")):
        run = stdo_play(stdo_package, "-o", out)
        assert run.returncode == 1 and message in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_play_writes_a_watchable_video(stdo_package, tmp_path):
    out = tmp_path / "sr.mp4"
    run = stdo_play(stdo_package, "-o", out, "--threads", "1", "--runtime", "onnx")
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stdout and "fps" in run.stdout and "frames sha256" in run.stdout
    info = stream.probe(out)
    assert (info["frames"], info["width"], info["height"], info["codec"]) == (6, 256, 160, "h264")
