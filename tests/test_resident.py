"""A resident base (the general model, installed with the player once) and per-video deltas against it, on
frames of the real clip: what is sent, what the client rebuilds, and that it shows what the server measured."""
from __future__ import annotations

import copy
import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper
from test_delivery import assert_one_error_line, edit_manifest, stdo_play

from stdo import codec, models, package
from stdo.cluster import cluster
from stdo.delivery import onnx_model, stream
from stdo.delivery.manifest import open_package
from stdo.delivery.play import play
from stdo.delivery.player import OnnxModel, TorchModel, model_graph, resident_base, upscale
from stdo.errors import InputError
from stdo.evaluate import evaluate
from stdo.ingest import ingest
from stdo.io import sha256_files
from stdo.label import label
from stdo.models import CaFM

SMALL = {"features": [8, 8, 4]}
META = {"arch": "espcn", "scale": 4, "arch_kwargs": SMALL}


def nudged(model, seed: int, amount: float):
    """`model` with every weight moved by Gaussian noise (what a few steps of training do to it)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator), alpha=amount)
    return model


@pytest.fixture(scope="module")
def clip(frames_dir, tmp_path_factory):
    """Six real frames labelled by a small 'general' ESPCN and split (stdo and temporal, k = 2); two chunk
    models and a CaFM model warm-started from the general model, one model from scratch; the LR stream
    lossless and at crf 30; the resident base written from the general model into bases/."""
    root = tmp_path_factory.mktemp("resident")
    ingest(frames_dir, root, [4], {4: (4, 2)})
    general = nudged(models.build("espcn", 4, **SMALL), 0, 0.05)
    models.save_checkpoint(general, root / "general.pt", META)
    label(root / "lr_x4.npy", root / "hr.npy", root / "general.pt", root / "patches.parquet", scale=4, grid=[4, 2],
          eval_every=4)
    for split in ("stdo", "temporal"):
        cluster(root / "patches.parquet", root / f"{split}.parquet", root / f"{split}.json", split=split, k=2)
    for c in range(2):
        models.save_checkpoint(nudged(copy.deepcopy(general), c + 1, 0.01), root / f"chunk{c}.pt",
                               {**META, "init": "general"})
    models.save_checkpoint(nudged(models.build("espcn", 4, **SMALL), 3, 0.05), root / "scratch.pt",
                           {**META, "init": "scratch"})
    cafm = nudged(CaFM(copy.deepcopy(general), 2), 4, 0.01)
    models.save_checkpoint(cafm, root / "cafm.pt", {**META, "init": "general", "cafm_chunks": 2,
                                                    "params_per_chunk": cafm.params_per_chunk()})
    frozen = CaFM(onnx_model.as_packaged(general, "fp16"), 2)  # fine-tuned from the base as the client decodes it
    nudged(frozen.per_chunk, 5, 0.01)
    models.save_checkpoint(frozen, root / "frozen.pt", {**META, "init": "general", "cafm_chunks": 2,
                                                        "params_per_chunk": frozen.params_per_chunk()})
    for rate, name in (("lossless", "lossless.mkv"), ("crf30", "crf30.mp4")):
        codec.encode_lr(root / "lr_x4.npy", root / "meta.json", root / name, root / f"{rate}.json", rate=rate,
                        encoder="libx264", preset="ultrafast", fps=12.5)
    package.write_base(root / "general.pt", root / "bases" / "x4.json")
    return root


def build(clip, out, models_=("chunk0.pt", "chunk1.pt"), split="stdo", base=True, rate="crf30", **kwargs):
    stream_file = {"lossless": "lossless.mkv", "crf30": "crf30.mp4"}[rate]
    package.build(clip / stream_file, clip / f"{rate}.json", clip / "patches.parquet", out, scale=4,
                  model_paths=[clip / m for m in models_], chunks_path=clip / f"{split}.parquet" if split else None,
                  base_path=clip / "bases" / "x4.json" if base else None, info={"method": "test"}, **kwargs)
    return out


def base_entry(clip) -> dict:
    return json.loads((clip / "bases" / "x4.json").read_text())


def score(clip, folder, out, split="stdo", **kwargs):
    return evaluate(folder, clip / "hr.npy", clip / "patches.parquet", out,
                    chunks_path=clip / f"{split}.parquet" if split else None, threads=1, **kwargs)


def frames_sha256(frames) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(f).tobytes() for f in frames)).hexdigest()


def bits(array) -> np.ndarray:
    return np.asarray(array, dtype=np.float32).view(np.uint32)


# ---------------------------------------------------------------- the base


@pytest.mark.parametrize("compression", ["none", "zlib"])
def test_the_base_is_the_general_model_as_a_package_file_named_by_its_content(clip, tmp_path, compression):
    entries = [package.write_base(clip / "general.pt", tmp_path / where / "x4-abc.json", compression=compression)
               for where in ("a", "b")]
    assert entries[0] == entries[1]
    entry = entries[0]
    assert entry["file"] == entry["sha256"] + (".onnx.zlib" if compression == "zlib" else ".onnx")
    for where in ("a", "b"):
        assert sorted(p.name for p in (tmp_path / where).iterdir()) == sorted([entry["file"], "x4-abc.json"])
        assert sha256_files([tmp_path / where / entry["file"]]) == entry["sha256"]
    shipped = build(clip, tmp_path / "general", models_=("general.pt",), split=None, base=False,
                    compression=compression)
    name = "model0.onnx" + (".zlib" if compression == "zlib" else "")
    assert (shipped / name).read_bytes() == (tmp_path / "a" / entry["file"]).read_bytes()
    assert {k: entry[k] for k in ("arch", "arch_kwargs", "scale", "weights", "bytes", "params")} == {
        "arch": "espcn", "arch_kwargs": SMALL, "scale": 4, "weights": "fp16",
        "bytes": (shipped / name).stat().st_size, "params": models.count_params(models.build("espcn", 4, **SMALL))}


def test_the_general_model_is_not_sent_but_named_and_plays_the_same_frames(clip, tmp_path):
    sent = build(clip, tmp_path / "sent", models_=("general.pt",), split=None, base=False)
    named = build(clip, tmp_path / "named", models_=("general.pt",), split=None)
    manifest = json.loads((named / "manifest.json").read_text())
    assert manifest["version"] == 2 and manifest["base"] == base_entry(clip)
    assert manifest["models"] == [{"file": None, "base": True, "arch": "espcn", "arch_kwargs": SMALL,
                                   "cafm_chunks": None, "params": base_entry(clip)["params"], "weights": "fp16",
                                   "compression": "none"}]
    assert sorted(p.name for p in named.iterdir()) == ["lr.mp4", "manifest.json"]
    before = score(clip, sent, tmp_path / "sent.json", split=None)
    after = score(clip, named, tmp_path / "named.json", split=None, base_dir=clip / "bases")
    assert after["sr_sha256"] == before["sr_sha256"] and after["rd_psnr_y"] == before["rd_psnr_y"]
    assert (before["base"], after["base"]) == ("none", f"resident x4-{base_entry(clip)['sha256'][:10]}")
    assert after["model_bytes"] == 0 and after["models"] == 0 and after["total_params"] == before["total_params"]
    assert after["package_bytes"] == sum(p.stat().st_size for p in named.iterdir())
    assert after["package_bytes_with_base"] == after["package_bytes"] + base_entry(clip)["bytes"]
    assert before["package_bytes_with_base"] == before["package_bytes"] and before["base_bytes"] == 0
    assert after["kbps_package_with_base"] == pytest.approx(8 * after["package_bytes_with_base"] / (6 / 12.5) / 1000)
    for runtime in ("torch", "onnx"):
        played = [np.stack(list(upscale(open_package(p, base_dir=clip / "bases"), runtime=runtime)))
                  for p in (sent, named)]
        np.testing.assert_array_equal(*played)


def test_a_package_that_needs_no_base_names_none(clip, tmp_path):
    """Shipping weights, trained models need no base: the package is the one built without a base."""
    with_base, without = (build(clip, tmp_path / name, base=base) for name, base in (("a", True), ("b", False)))
    assert (with_base / "manifest.json").read_bytes() == (without / "manifest.json").read_bytes()
    assert json.loads((with_base / "manifest.json").read_text())["version"] == 1


def test_a_chunk_that_falls_back_to_the_general_model_plays_the_base(clip, tmp_path):
    (tmp_path / "selection.json").write_text(json.dumps(
        {"chunks": [{"chunk": 0, "ships": "trained"}, {"chunk": 1, "ships": "general"}], "fallbacks": 1}))
    choice = {"selection_path": tmp_path / "selection.json", "general_path": clip / "general.pt"}
    sent = build(clip, tmp_path / "sent", base=False, **choice)
    named = build(clip, tmp_path / "named", **choice)
    entries = json.loads((named / "manifest.json").read_text())["models"]
    assert [e["file"] for e in entries] == ["model0.onnx", None] and entries[1]["base"]
    played = [np.stack(list(upscale(open_package(p, base_dir=clip / "bases")))) for p in (sent, named)]
    np.testing.assert_array_equal(*played)


# ---------------------------------------------------------------- deltas


@pytest.fixture(scope="module")
def delta_package(clip, tmp_path_factory):
    return build(clip, tmp_path_factory.mktemp("delta") / "package", ship="delta")


def test_models_warm_started_from_the_base_are_sent_as_int8_deltas(clip, delta_package, tmp_path):
    entries = json.loads((delta_package / "manifest.json").read_text())["models"]
    assert [(e["file"], e["weights"], e["compression"], e["delta"]) for e in entries] == [
        (f"model{i}.delta.onnx.zlib", "int8", "zlib", {"base": base_entry(clip)["sha256"], "prefix": ""})
        for i in range(2)]
    mixed = build(clip, tmp_path / "mixed", models_=("chunk0.pt", "scratch.pt"), ship="delta")
    entries = json.loads((mixed / "manifest.json").read_text())["models"]
    assert "delta" in entries[0] and "delta" not in entries[1] and entries[1]["file"] == "model1.onnx"
    sizes = open_package(delta_package, base_dir=clip / "bases").bytes_by_role()
    assert sizes["model_bytes"] == sum((delta_package / f"model{i}.delta.onnx.zlib").stat().st_size for i in range(2))
    assert sizes["package_bytes_with_base"] == sizes["package_bytes"] + base_entry(clip)["bytes"]


def onnx_runtime_weights(proto, names) -> dict:
    """The float32 weights ONNX Runtime computes with, read off a session of the graph."""
    graph = copy.deepcopy(proto)
    graph.graph.output.extend(helper.make_tensor_value_info(f"{n}.float32", TensorProto.FLOAT, None) for n in names)
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {"lr": np.zeros((1, 3, 4, 4), np.float32)}
    if "chunk" in [i.name for i in session.get_inputs()]:
        feed["chunk"] = np.zeros(1, np.int64)
    return dict(zip(names, session.run([f"{n}.float32" for n in names], feed)))


@pytest.mark.parametrize("case", ["chunks", "cafm", "frozen"])
def test_the_client_rebuilds_the_same_float32_weights_on_every_path(clip, delta_package, tmp_path, case):
    """On every path, and for "frozen" (a CaFM model whose backbone is the base as decoded: its delta is all
    zero) the trained backbone itself, bit for bit."""
    folder = delta_package if case == "chunks" else build(clip, tmp_path / case, models_=(f"{case}.pt",),
                                                            split="temporal", ship="delta")
    pkg = open_package(folder, base_dir=clip / "bases")
    trained = [models.load_checkpoint(clip / name)[0] for name in
               (("chunk0.pt", "chunk1.pt") if case == "chunks" else (f"{case}.pt",))]
    for entry, model in zip(pkg.manifest["models"], trained):
        _, proto, weights = model_graph(pkg, entry, resident_base(pkg))
        again = model_graph(open_package(folder, base_dir=clip / "bases"), entry, resident_base(pkg))[2]
        in_torch = TorchModel(pkg, entry, "cpu", "fp32", 1, resident_base(pkg)).model.state_dict()
        in_onnx = onnx_runtime_weights(proto, list(weights))
        for name, w in weights.items():
            for other in (again[name], in_torch[name].numpy(), in_onnx[name]):
                np.testing.assert_array_equal(bits(other), bits(w), err_msg=name)
        # close to the trained weights: the int8 error is that of the small delta, not of the weights
        state = {name: t.numpy() for name, t in model.state_dict().items()}
        as_delta = sum(np.square(weights[name] - w).sum() for name, w in state.items())
        as_int8 = sum(np.square(onnx_model.decoded(name, w, "int8") - w).sum() for name, w in state.items())
        assert as_delta < 0.1 * as_int8
        if case == "frozen":
            for name in resident_base(pkg)[1]:
                np.testing.assert_array_equal(bits(weights[f"backbone.{name}"]), bits(state[f"backbone.{name}"]))
        assert isinstance(OnnxModel(pkg, entry, "cpu", 1, resident_base(pkg)).session, ort.InferenceSession)


def test_cafm_sends_its_backbone_as_a_delta_and_its_chunk_modules_whole(clip, tmp_path):
    folder = build(clip, tmp_path / "cafm", models_=("cafm.pt",), split="temporal", ship="delta")
    entry = json.loads((folder / "manifest.json").read_text())["models"][0]
    assert entry["delta"]["prefix"] == "backbone." and entry["cafm_chunks"] == 2
    pkg = open_package(folder, base_dir=clip / "bases")
    frames = {runtime: np.stack(list(upscale(pkg, runtime=runtime))).astype(int) for runtime in ("torch", "onnx")}
    assert np.abs(frames["torch"] - frames["onnx"]).max() <= 1  # float rounding may flip a .5 at the 8-bit rounding


def test_the_client_shows_exactly_the_frames_the_server_measured(clip, delta_package, tmp_path):
    measured = score(clip, delta_package, tmp_path / "metrics.json", base_dir=clip / "bases")
    done = play(delta_package, tmp_path / "sr.mkv", lossless=True, base_dir=clip / "bases", threads=1)
    shown = frames_sha256(stream.decode(tmp_path / "sr.mkv"))
    upscaled = frames_sha256(upscale(open_package(delta_package, base_dir=clip / "bases")))
    assert measured["sr_sha256"] == done["sha256"] == shown == upscaled
    assert measured["deltas"] == 2 and measured["base"] == f"resident x4-{base_entry(clip)['sha256'][:10]}"
    fp16 = score(clip, build(clip, tmp_path / "fp16", base=False), tmp_path / "fp16.json")
    assert abs(measured["rd_psnr_y"] - fp16["rd_psnr_y"]) < 0.01  # as good as fp16 weights


# ---------------------------------------------------------------- what a client or the server refuses


def play_with_base(folder, tmp_path, *base_dir):
    out = tmp_path / "sr.mp4"
    return stdo_play(folder, "-o", out, "--threads", "1", *base_dir), out


def copy_of(folder, tmp_path):
    shutil.copytree(folder, tmp_path / "package")
    return tmp_path / "package"


def test_a_missing_or_different_base_ends_with_one_line_and_no_output(clip, delta_package, tmp_path):
    sha = base_entry(clip)["sha256"]
    run, out = play_with_base(delta_package, tmp_path)
    assert_one_error_line(run, "stdo play", f"needs the resident base {sha} (espcn x4); give the folder of bases")
    (tmp_path / "empty").mkdir()
    run, out = play_with_base(delta_package, tmp_path, "--base-dir", tmp_path / "empty")
    assert_one_error_line(run, "stdo play", f"{tmp_path / 'empty'}: holds no resident base {sha} (espcn x4)")
    other = tmp_path / "other"
    package.write_base(clip / "chunk0.pt", other / "x4.json")
    next(other.glob("*.onnx")).rename(other / f"{sha}.onnx")
    run, out = play_with_base(delta_package, tmp_path, "--base-dir", other)
    assert_one_error_line(run, "stdo play", f"{other / sha}.onnx: sha256 differs from the resident base {sha}")
    assert not out.exists() and not list(tmp_path.glob(".sr*"))


def test_a_delta_against_another_base_ends_with_one_line_and_no_output(clip, delta_package, tmp_path):
    bad = copy_of(delta_package, tmp_path)
    edit_manifest(bad, lambda m: m["models"][1]["delta"].update(base="0" * 64))
    for runtime in ("onnx", "torch"):
        run, out = play_with_base(bad, tmp_path, "--base-dir", clip / "bases", "--runtime", runtime)
        assert_one_error_line(run, "stdo play", f"model1.delta.onnx.zlib: a delta against the base {'0' * 64}, "
                                                f"but the package's base is {base_entry(clip)['sha256']}")
        assert not out.exists()


def test_evaluate_without_the_base_ends_with_one_line_and_writes_nothing(clip, delta_package, tmp_path):
    out = tmp_path / "metrics.json"
    run = subprocess.run([sys.executable, "-m", "stdo", "evaluate", "--package-path", delta_package, "--hr-path",
                          clip / "hr.npy", "--patches-path", clip / "patches.parquet", "--out", out,
                          "--base-dir", tmp_path], capture_output=True, text=True)
    assert_one_error_line(run, "stdo evaluate", f"{tmp_path}: holds no resident base {base_entry(clip)['sha256']}")
    assert not out.exists()


def test_the_server_refuses_a_delta_without_a_base_or_a_base_of_another_scale(clip, tmp_path):
    with pytest.raises(InputError, match="ship 'delta': models are sent as differences to a resident base"):
        build(clip, tmp_path / "p", base=False, ship="delta")
    bases = shutil.copytree(clip / "bases", tmp_path / "bases")
    (bases / "x2.json").write_text(json.dumps({**base_entry(clip), "scale": 2}))
    with pytest.raises(InputError, match=r"x2.json: a base for x2, the package is x4"):
        package.build(clip / "crf30.mp4", clip / "crf30.json", clip / "patches.parquet", tmp_path / "q", scale=4,
                      model_paths=[clip / "chunk0.pt"], base_path=bases / "x2.json")
    assert not (tmp_path / "p").exists() and not (tmp_path / "q").exists()
