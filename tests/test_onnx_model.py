import zlib
from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from stdo import models
from stdo.delivery import onnx_model
from stdo.errors import InputError
from stdo.models import CaFM

# small variants of every registered arch, to keep the tests fast
SMALL = {"bicubic": {}, "edsr": {"blocks": 2, "features": 8}, "espcn": {"features": (8, 8, 4)},
         "fsrcnn": {"d": 8, "s": 4, "m": 2}, "rcan": {"groups": 1, "blocks": 2, "features": 8, "reduction": 4},
         "srcnn": {"features": (8, 4)}, "vdsr": {"depth": 4, "features": 8},
         "wdsr": {"blocks": 2, "features": 8, "expansion": 2}}
CHUNKS = 3
CASES = [(arch, scale) for arch in sorted(SMALL) for scale in (2, 3, 4)]
CASES += [("cafm:espcn", 4), ("cafm:edsr", 3)]
# a mixed chunk vector per patch size; the export traced chunks (0, 1) on a batch of 2
ROUTES = ([2, 0, 1], [1, 2])


def test_every_registered_arch_is_covered():
    assert sorted(SMALL) == models.names()


def build(name: str, scale: int, seed: int = 0):
    torch.manual_seed(seed)
    if name.startswith("cafm:"):
        backbone = name.split(":")[1]
        return CaFM(models.build(backbone, scale, **SMALL[backbone]), CHUNKS).eval()
    return models.build(name, scale, **SMALL[name]).eval()


def perturbed(model):
    """Non-trivial weights: ESPCN's and VDSR's tails and CaFM's gates start at zero."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator), alpha=0.05)
    return model


def floating_state(model) -> dict:
    return {k: v for k, v in model.state_dict().items() if v.is_floating_point()}


@pytest.fixture(scope="module")
def patches(bunny) -> list[torch.Tensor]:
    """LR patches of the real clip at two sizes: (3, 3, 24, 32) and (2, 3, 17, 21), in [0, 1]."""
    def nchw(frames):
        return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255

    return [nchw(np.stack([bunny[0, 10:34, 20:52], bunny[2, 70:94, 100:132], bunny[4, 120:144, 200:232]])),
            nchw(np.stack([bunny[1, 40:57, 60:81], bunny[5, 130:147, 230:251]]))]


def run_torch(model, x, route):
    with torch.no_grad():
        return model(x, torch.tensor(route)) if isinstance(model, CaFM) else model(x)


def run_onnx(session, x, route):
    feed = {"lr": x.numpy()}
    if len(session.get_inputs()) == 2:
        feed["chunk"] = np.array(route, dtype=np.int64)
    return torch.from_numpy(session.run(["sr"], feed)[0])


PACKAGES = [(name, scale, weights) for name, scale in CASES for weights in onnx_model.WEIGHTS]


@pytest.fixture(scope="module", params=PACKAGES, ids=[f"{name}-x{scale}-{w}" for name, scale, w in PACKAGES])
def package(request, tmp_path_factory):
    name, scale, weights = request.param
    model = perturbed(build(name, scale))
    path = tmp_path_factory.mktemp("package") / "model.onnx"
    info = onnx_model.export(model, path, cafm_chunks=CHUNKS if isinstance(model, CaFM) else None, weights=weights)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return SimpleNamespace(name=name, scale=scale, weights=weights, model=model, path=path, info=info,
                           session=session, packaged=onnx_model.as_packaged(model, weights))


def bits(array) -> np.ndarray:
    return np.asarray(array, dtype=np.float32).view(np.uint32)


def test_onnx_runtime_agrees_with_torch_on_the_stored_weights(package, patches):
    for x, route in zip(patches, ROUTES):
        sr = run_onnx(package.session, x, route)
        assert sr.shape == (len(x), 3, x.shape[2] * package.scale, x.shape[3] * package.scale)
        assert (sr - run_torch(package.packaged, x, route)).abs().max() <= 1e-4


def test_the_torch_runtime_loads_exactly_the_packaged_weights(package, patches):
    weights = onnx_model.load_weights(package.path)
    assert all(w.dtype == np.float32 for w in weights.values())
    packaged = floating_state(package.packaged)
    assert weights.keys() == packaged.keys()
    for name, tensor in packaged.items():
        np.testing.assert_array_equal(bits(weights[name]), bits(tensor.numpy()), err_msg=name)
    fresh = build(package.name, package.scale, seed=123)
    fresh.load_state_dict({k: torch.from_numpy(w) for k, w in weights.items()}, strict=True)
    for x, route in zip(patches, ROUTES):
        assert torch.equal(run_torch(fresh, x, route), run_torch(package.packaged, x, route))


def test_onnx_runtime_computes_with_exactly_the_loaded_weights(package, patches):
    """The decoded weights (each Cast's or DequantizeLinear's output) read off the session itself."""
    proto = onnx.load(str(package.path))
    names = list(floating_state(package.model))
    proto.graph.output.extend(helper.make_tensor_value_info(f"{n}.float32", TensorProto.FLOAT, None) for n in names)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {"lr": patches[0].numpy()} | ({"chunk": np.array(ROUTES[0])} if "cafm" in package.name else {})
    decoded = dict(zip(names, session.run([f"{n}.float32" for n in names], feed)))
    for name, weight in onnx_model.load_weights(package.path).items():
        np.testing.assert_array_equal(bits(decoded[name]), bits(weight), err_msg=name)


def stored_bytes(tensor: torch.Tensor, weights: str) -> int:
    """2 bytes per fp16 value; 1 per int8 value plus a 4-byte scale per output channel."""
    if weights == "int8" and tensor.dim() >= 2:
        return tensor.numel() + 4 * len(tensor)
    return 2 * tensor.numel()


def test_the_file_is_its_stored_weights_plus_a_small_overhead(package):
    state = floating_state(package.model)
    payload = sum(stored_bytes(t, package.weights) for t in state.values())
    assert package.info["bytes"] == package.path.stat().st_size
    assert package.info["params"] == models.count_params(package.model)
    # the graph (names, a Cast or DequantizeLinear per weight, CaFM's routing) and the fp32 kernel of
    # a bicubic skip: measured 3.5 KB (bicubic x2) to 11 KB (wdsr), 29-34 KB with CaFM (~0.3-0.8 KB
    # per weight tensor)
    assert 0 < package.info["bytes"] - payload < 10_000 + 1_000 * len(state)


def test_the_file_has_the_documented_interface(package):
    proto = onnx.load(str(package.path))
    assert package.info["opset"] == onnx_model.OPSET == proto.opset_import[0].version
    assert package.info["weights"] == package.weights
    inputs = {i.name: i.type.tensor_type for i in proto.graph.input}
    assert list(inputs) == package.info["inputs"] == (["lr", "chunk"] if "cafm" in package.name else ["lr"])
    assert inputs["lr"].elem_type == TensorProto.FLOAT
    assert [d.dim_param or d.dim_value for d in inputs["lr"].shape.dim] == ["n", 3, "h", "w"]
    if "chunk" in inputs:
        assert inputs["chunk"].elem_type == TensorProto.INT64
    state = floating_state(package.model)
    initializers = {t.name: t for t in proto.graph.initializer}
    stored = {k: t for k, t in initializers.items() if t.data_type in (TensorProto.FLOAT16, TensorProto.INT8)}
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: tuple(t.dims) for k, t in stored.items()}
    for name, tensor in state.items():
        int8 = package.weights == "int8" and tensor.dim() >= 2
        assert stored[name].data_type == (TensorProto.INT8 if int8 else TensorProto.FLOAT16)
    for node in proto.graph.node:  # every consumer of a stored weight decodes it to float32
        if not set(node.input) & set(stored):
            continue
        if node.op_type == "Cast":
            assert node.attribute[0].i == TensorProto.FLOAT and stored[node.input[0]].data_type == TensorProto.FLOAT16
        else:
            scale = initializers[node.input[1]]
            assert node.op_type == "DequantizeLinear" and list(node.input) == [node.input[0], f"{node.input[0]}.scale"]
            assert [(a.name, a.i) for a in node.attribute] == [("axis", 0)]
            assert scale.data_type == TensorProto.FLOAT and list(scale.dims) == list(stored[node.input[0]].dims[:1])


@pytest.mark.parametrize("weights, per_weight", [("fp16", 2), ("int8", 1)])
def test_a_full_size_espcn_is_a_half_or_a_quarter_of_its_fp32_bytes(tmp_path, weights, per_weight):
    model = perturbed(models.build("espcn", 4))
    info = onnx_model.export(model, tmp_path / "espcn.onnx", weights=weights)
    assert info["params"] == 71_056
    assert per_weight * info["params"] < info["bytes"] < (per_weight + 0.2) * info["params"]
    assert sorted(tmp_path.iterdir()) == [tmp_path / "espcn.onnx"]  # no temporary file left


@pytest.mark.parametrize("weights", onnx_model.WEIGHTS)
def test_a_compressed_file_is_the_zlib_stream_of_the_plain_one(tmp_path, weights):
    model = perturbed(models.build("espcn", 4))
    plain = onnx_model.export(model, tmp_path / "m.onnx", weights=weights)
    packed = onnx_model.export(model, tmp_path / "m.onnx.zlib", weights=weights, compression="zlib")
    assert (plain["compression"], packed["compression"]) == ("none", "zlib") and packed["bytes"] < plain["bytes"]
    assert zlib.decompress((tmp_path / "m.onnx.zlib").read_bytes()) == (tmp_path / "m.onnx").read_bytes()
    unpacked = onnx_model.load_weights(tmp_path / "m.onnx.zlib", "zlib")
    for name, weight in onnx_model.load_weights(tmp_path / "m.onnx").items():
        np.testing.assert_array_equal(bits(unpacked[name]), bits(weight))


def test_int8_is_symmetric_per_output_channel():
    w = torch.randn(6, 4, 3, 3, generator=torch.Generator().manual_seed(2)).numpy()
    w[1] = 0  # a channel of zeros
    w[2] *= 1e-3
    q, scale = onnx_model.quantize(w)
    assert q.dtype == np.int8 and scale.dtype == np.float32 and scale.shape == (6,)
    assert scale[1] == 1 and not q[1].any()
    peak = np.abs(w).reshape(6, -1).max(axis=1)
    live = [0, 2, 3, 4, 5]
    np.testing.assert_array_equal(scale[live], peak[live] / np.float32(127))
    assert (np.abs(q[live]).reshape(5, -1).max(axis=1) == 127).all()
    error = np.abs(onnx_model.dequantize(q, scale) - w).reshape(6, -1).max(axis=1)
    assert (error <= 0.5001 * scale).all()


@pytest.mark.parametrize("name", ["vdsr", "fsrcnn", "cafm:espcn"])
def test_weights_of_equal_value_keep_their_own_names(name, tmp_path):
    """Untrained, VDSR's and FSRCNN's hidden biases are all zero and CaFM's gates too; the
    exporter's default pass would merge such initializers and lose state_dict names."""
    model = build(name, 2)
    onnx_model.export(model, tmp_path / "m.onnx", cafm_chunks=CHUNKS if isinstance(model, CaFM) else None)
    assert set(onnx_model.load_weights(tmp_path / "m.onnx")) == set(floating_state(model))


@pytest.mark.parametrize("weights", onnx_model.WEIGHTS)
def test_as_packaged_changes_a_copy_and_keeps_cafm_routing(patches, weights):
    model = perturbed(build("cafm:espcn", 4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    packaged = onnx_model.as_packaged(model, weights)
    for name, tensor in packaged.state_dict().items():
        if weights == "int8" and tensor.dim() >= 2:
            stored = onnx_model.quantize(before[name].numpy())
            assert torch.equal(tensor, torch.from_numpy(onnx_model.dequantize(*stored)))
        else:  # and CaFM's per-channel vectors and gates stay fp16 under int8
            assert torch.equal(tensor, before[name].half().float())
        assert torch.equal(model.state_dict()[name], before[name])
    assert any(not torch.equal(t, before[k]) for k, t in packaged.state_dict().items())
    x, route = patches[0], ROUTES[0]
    out = run_torch(packaged, x, route)
    assert (out - run_torch(model, x, route)).abs().max() < {"fp16": 1e-3, "int8": 1e-2}[weights]
    with torch.no_grad():
        assert not torch.allclose(out, packaged.backbone(x))  # the chunk modules still act


def test_a_cafm_model_needs_its_number_of_chunks(tmp_path):
    with pytest.raises(ValueError, match="cafm_chunks=None"):
        onnx_model.export(build("cafm:espcn", 2), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="cafm_chunks=2"):
        onnx_model.export(build("cafm:espcn", 2), tmp_path / "m.onnx", cafm_chunks=2)
    with pytest.raises(ValueError, match="cafm_chunks=3"):
        onnx_model.export(build("espcn", 2), tmp_path / "m.onnx", cafm_chunks=3)


def test_an_unknown_storage_is_refused(tmp_path):
    with pytest.raises(ValueError, match="weights 'int4': choose one of fp16, int8"):
        onnx_model.export(build("espcn", 2), tmp_path / "m.onnx", weights="int4")
    with pytest.raises(ValueError, match="compression 'zstd': choose one of none, zlib"):
        onnx_model.export(build("espcn", 2), tmp_path / "m.onnx", compression="zstd")


class Unused(torch.nn.Module):
    scale = 2

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 12, 3, padding=1)
        self.spare = torch.nn.Parameter(torch.ones(3))

    def forward(self, x):
        return torch.nn.functional.pixel_shuffle(self.conv(x), 2)


def test_a_weight_missing_from_the_graph_is_named(tmp_path):
    with pytest.raises(ValueError, match="'spare'"):
        onnx_model.export(Unused(), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    (tmp_path / "bad.onnx").write_text("not onnx")
    with pytest.raises(InputError, match="bad.onnx: not an ONNX file"):
        onnx_model.load_weights(tmp_path / "bad.onnx")
    with pytest.raises(InputError, match=r"bad.onnx: corrupt zlib data \(Error -3 .*incorrect header check\)"):
        onnx_model.load_weights(tmp_path / "bad.onnx", "zlib")
    with pytest.raises(InputError, match=r"bad.onnx: compression 'lzma' is not one this client reads \(none, zlib\)"):
        onnx_model.load_weights(tmp_path / "bad.onnx", "lzma")


def test_a_compressed_file_inflating_past_the_cap_or_cut_short_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "m.onnx.zlib"
    onnx_model.export(models.build("espcn", 2, features=[8, 8, 4]), path, compression="zlib")
    assert onnx_model.load_weights(path, "zlib")
    path.with_name("cut.zlib").write_bytes(path.read_bytes()[:-10])
    with pytest.raises(InputError, match=r"cut.zlib: corrupt zlib data \(truncated\)"):
        onnx_model.load_weights(path.with_name("cut.zlib"), "zlib")
    monkeypatch.setattr(onnx_model, "MAX_MODEL_BYTES", 1 << 10)
    with pytest.raises(InputError, match=r"m.onnx.zlib: decompresses to more than 0 MiB, more than any model"):
        onnx_model.load_weights(path, "zlib")


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_the_bicubic_graph_equals_the_bicubic_model(scale, patches):
    session = ort.InferenceSession(onnx_model.bicubic_graph(scale).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    bicubic = models.build("bicubic", scale)
    for x in [*patches, patches[1][:1, :, :1, :2]]:  # and a 1x2 patch: every tap on the border
        assert (run_onnx(session, x, None) - run_torch(bicubic, x, None)).abs().max() <= 1e-5


def test_a_delta_file_stores_the_difference_and_runs_on_the_weights_given_back(tmp_path, patches):
    base, model = perturbed(build("espcn", 4)), perturbed(build("espcn", 4, seed=1))
    minus = onnx_model.packaged_weights(base)
    onnx_model.export(model, tmp_path / "delta.onnx", weights="int8", minus=minus)
    stored = onnx_model.load_weights(tmp_path / "delta.onnx")
    state = floating_state(model)
    for name, delta in stored.items():
        expected = onnx_model.decoded(name, state[name].numpy() - minus[name], "int8")
        np.testing.assert_array_equal(bits(delta), bits(expected), err_msg=name)
    summed = {name: minus[name] + delta for name, delta in stored.items()}
    proto = onnx_model.with_weights(onnx.load(str(tmp_path / "delta.onnx")), summed)
    assert {t.data_type for t in proto.graph.initializer if t.name.endswith(".float32")} == {TensorProto.FLOAT}
    assert not [n for n in proto.graph.node if n.output[0].endswith(".float32")]  # no weight is decoded any more
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    rebuilt = build("espcn", 4, seed=2)
    rebuilt.load_state_dict({k: torch.from_numpy(w) for k, w in summed.items()})
    for x in patches:
        assert (run_onnx(session, x, None) - run_torch(rebuilt, x, None)).abs().max() <= 1e-4
    with pytest.raises(ValueError, match=r"the base's 'tail.weight' \(1,\) is not a weight of the model"):
        onnx_model.export(model, tmp_path / "bad.onnx", minus={"tail.weight": np.zeros(1, np.float32)})


def test_an_all_zero_delta_is_stored_as_zeros_with_finite_scales_in_almost_no_bytes(tmp_path):
    """A model trained from the base as the client decodes it, its weights all left alone (a frozen backbone):
    every stored delta is 0 (scale 1, never a 0/0), the base comes back bit for bit, and the file is nearly the
    graph alone (at ESPCN's published size)."""
    base = perturbed(models.build("espcn", 4))
    minus = onnx_model.packaged_weights(base, "int8")
    weights = onnx_model.export(base, tmp_path / "weights.onnx.zlib", weights="int8", compression="zlib")
    delta = onnx_model.export(onnx_model.as_packaged(base, "int8"), tmp_path / "zero.onnx.zlib", weights="int8",
                              compression="zlib", minus=minus)
    proto = onnx_model.load(tmp_path / "zero.onnx.zlib", "zlib")
    scales = [numpy_helper.to_array(t) for t in proto.graph.initializer if t.name.endswith(".scale")]
    assert scales and all((s == 1).all() for s in scales)
    for name, stored in onnx_model.weights_of(proto, "zero").items():
        assert not stored.any() and np.isfinite(stored).all(), name
        np.testing.assert_array_equal(bits(minus[name] + stored), bits(minus[name]), err_msg=name)
    assert delta["bytes"] < 0.05 * weights["bytes"]
