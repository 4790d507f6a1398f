"""The model files of a delivery package: ONNX graphs whose weights are stored in fp16 or int8.

A package ships each SR model as one ONNX file (opset 17; dynamic batch, height and width; input
"lr" float32 (N, 3, h, w) in [0, 1], plus "chunk" int64 (N,) for a CaFM model; output "sr"
float32 (N, 3, h*s, w*s)). Every floating tensor of the model's `state_dict` is stored in one of
two formats (`WEIGHTS`), and ONNX Runtime computes in fp32 either way:
- fp16: an fp16 initializer, half the bytes of fp32, followed by a Cast to float32;
- int8 (weight-only, per output channel): each tensor of two or more dims (convolution and linear
  weights) is an int8 initializer q and a float32 initializer "<name>.scale", one scale per output
  channel (max |w| / 127; 1 for a channel of zeros), dequantized by DequantizeLinear (axis 0, zero
  point 0) to q * scale in float32; the 1-D tensors (biases, CaFM's per-channel vectors) are
  stored in fp16 as above.
Other constants, such as the fixed bicubic kernel of `stdo.resample`, stay float32. The
initializers keep their `state_dict` names, so a client can also rebuild the architecture from
the registry and load `load_weights(path)` into it with PyTorch. Both runtimes then hold exactly
the weights of `as_packaged(model, weights)`.

A file may also be zlib-compressed (level 9, `COMPRESSIONS`; the package names it model<i>.onnx.zlib
and its manifest entry says so); readers decompress it in memory. Measured on the default run's
trained ESPCN x4 (71,056 weights, bigbuckbunny): fp16 151,465 -> 134,610 bytes (-11 %), int8
81,735 -> 67,259 bytes (-18 %); its CaFM model (four chunks) fp16 -22 %, int8 -33 %. Compression
is an option, off by default, only so that the default run's packages and delivered bytes stay
what they were: it is lossless (the same frames) and decompressing costs the client 0.5 ms per
fp16 ESPCN (0.25 ms int8) on our CPU.

A delta file, which a package ships for a model warm-started from a base the client already holds
(`stdo.package`, manifest format 2), is such a file whose stored weights are the model's minus the
base's as the client decodes them (`export(minus=...)`, int8 + zlib); the client adds the base's back
in float32 and runs the graph on those sums (`with_weights`).

Only `export` and `as_packaged` need torch; a client reading a package needs only onnx."""
from __future__ import annotations

import copy
import io
import warnings
import zlib
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import TensorProto, helper, numpy_helper

from .. import resample
from ..errors import InputError
from ..io import save_bytes
from ..vocabulary import COMPRESSIONS, WEIGHTS  # noqa: F401 (the module's own words, read as onnx_model.WEIGHTS)

OPSET = 17
MAX_MODEL_BYTES = 1 << 30  # a model file decompressed: EDSR's paper size (43 M weights) is 86 MB in fp16
_LR_DIMS = ("n", 3, "h", "w")
_SR_DIMS = ("n", 3, "sr_h", "sr_w")


def export(model, path, **how) -> dict:
    """Write `model` as an ONNX file at `path` (`serialize` says how); what `serialize` returns, with its bytes."""
    data, info = serialize(model, **how)
    save_bytes(data, path)
    return {**info, "bytes": len(data)}


def serialize(model, *, cafm_chunks: int | None = None, weights: str = "fp16", compression: str = "none",
              minus: dict | None = None) -> tuple[bytes, dict]:
    """`model` as the bytes of an ONNX file with its weights stored as `weights`, the file compressed by
    `compression` (see the module docstring); for a `stdo.models.CaFM` model, `cafm_chunks` must be
    its number of chunks. `minus`: {state_dict name: float32 array} subtracted from those weights
    before they are stored (a delta against a base the client holds: `with_weights`). Returns what to
    record in a manifest besides the file's size: opset, weights, compression, inputs, params and buffers
    (`counts`)."""
    from ..models import CaFM, count_params

    if isinstance(model, CaFM) != (cafm_chunks is not None) or (cafm_chunks and cafm_chunks != model.chunks):
        raise ValueError(f"cafm_chunks={cafm_chunks} does not describe a {type(model).__name__} model")
    if weights not in WEIGHTS:
        raise ValueError(f"weights '{weights}': choose one of {', '.join(WEIGHTS)}")
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression '{compression}': choose one of {', '.join(COMPRESSIONS)}")
    inputs = ["lr", "chunk"] if cafm_chunks else ["lr"]
    proto = _trace(model, inputs)
    _store(proto.graph, _minus(_floating_state(model), minus or {}), weights)
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()  # what onnx.save writes
    return (zlib.compress(data, 9) if compression == "zlib" else data,
            {"opset": OPSET, "weights": weights, "compression": compression, "inputs": inputs,
             **counts(count_params(model), sum(b.numel() for b in model.buffers() if b.is_floating_point()))})


def counts(params: int, buffers: int = 0) -> dict:
    """What a manifest entry says the graph holds: `params` (the model's parameters, what the tables count)
    and `buffers` (its floating buffers, e.g. an RGB mean; left out when there are none, as in entries
    written before it existed). The graph's stored tensors add up to their sum."""
    return {"params": params, **({"buffers": buffers} if buffers else {})}


def stored_count(entry: dict) -> int:
    """The number of values the graph of a manifest entry (`counts`) must store."""
    return entry["params"] + entry.get("buffers", 0)


def _floating_state(model) -> dict:
    """{name: float32 array} of the floating tensors of the model's state_dict."""
    import torch

    return {name: t.detach().to("cpu", torch.float32).numpy() for name, t in model.state_dict().items()
            if t.is_floating_point()}


def _minus(state: dict, base: dict) -> dict:
    for name, array in base.items():
        if name not in state or state[name].shape != array.shape:
            raise ValueError(f"the base's '{name}' {array.shape} is not a weight of the model")
    return {name: array - base[name] if name in base else array for name, array in state.items()}


def _trace(model, inputs: list[str]) -> onnx.ModelProto:
    """The TorchScript exporter's fp32 graph, initializers named by their state_dict keys."""
    import torch

    device = next((t.device for t in model.state_dict().values()), torch.device("cpu"))
    lr = torch.linspace(0, 1, 2 * 3 * 12 * 16, device=device).view(2, 3, 12, 16)
    example = (lr, torch.arange(2, device=device) % model.chunks) if "chunk" in inputs else (lr,)
    dynamic = {"lr": _axes(_LR_DIMS), "chunk": {0: "n"}, "sr": _axes(_SR_DIMS)}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter is deprecated
        # the bicubic kernel becomes a constant of the trace, as it should
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", "Constant folding - Only steps=1", UserWarning)
        # keep_initializers_as_inputs skips the pass that merges equal-valued initializers (e.g.
        # the zero biases of an untrained VDSR), which would lose state_dict names
        torch.onnx.export(model, example, buffer, dynamo=False, do_constant_folding=False,
                          opset_version=OPSET, input_names=inputs, output_names=["sr"],
                          dynamic_axes={name: dynamic[name] for name in [*inputs, "sr"]},
                          keep_initializers_as_inputs=True)
    return onnx.load_from_string(buffer.getvalue())


def _axes(dims: tuple) -> dict:
    return {i: dim for i, dim in enumerate(dims) if isinstance(dim, str)}


def _quantized(array: np.ndarray, weights: str) -> bool:
    return weights == "int8" and array.ndim >= 2


def quantize(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output channel (axis 0): (q int8, scale float32 (len(w),))."""
    flat = w.reshape(len(w), -1).astype(np.float32)
    if not np.isfinite(flat).all():
        raise ValueError("cannot quantize non-finite weights")
    peak = np.abs(flat).max(axis=1)
    scale = np.where(peak > 0, peak / np.float32(127), np.float32(1)).astype(np.float32)
    q = np.clip(np.rint(flat / scale[:, None]), -127, 127).astype(np.int8)
    return q.reshape(w.shape), scale


def dequantize(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """q * scale in float32, per output channel: what DequantizeLinear (axis 0, zero point 0) computes."""
    return q.astype(np.float32) * scale.reshape(-1, *[1] * (q.ndim - 1))


def _fp16(name: str, array: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        half = array.astype(np.float16)
    if np.isinf(half).any() and np.isfinite(array).all():
        raise ValueError(f"state_dict key '{name}' has values beyond the fp16 range (65504)")
    return half


def decoded(name: str, array: np.ndarray, weights: str) -> np.ndarray:
    """The float32 tensor both runtimes compute with for `array` stored as `weights`."""
    if _quantized(array, weights):
        return dequantize(*quantize(array))
    return _fp16(name, array).astype(np.float32)


def _encode(name: str, array: np.ndarray, weights: str) -> tuple[list, onnx.NodeProto]:
    """The initializers that store `array` as `weights` and the node decoding them to "<name>.float32"."""
    out = f"{name}.float32"
    if _quantized(array, weights):
        q, scale = quantize(array)
        return ([numpy_helper.from_array(q, name), numpy_helper.from_array(scale, f"{name}.scale")],
                helper.make_node("DequantizeLinear", [name, f"{name}.scale"], [out], name=f"{name}.dequantize",
                                 axis=0))
    return ([numpy_helper.from_array(_fp16(name, array), name)],
            helper.make_node("Cast", [name], [out], name=f"{name}.cast", to=TensorProto.FLOAT))


def _store(graph: onnx.GraphProto, state: dict, weights: str) -> None:
    """Store each state_dict initializer as `weights` and feed its consumers the float32 tensor it decodes to."""
    initializers = {t.name: t for t in graph.initializer}
    for name, array in state.items():
        if name not in initializers or tuple(initializers[name].dims) != array.shape:
            raise ValueError(f"state_dict key '{name}' {array.shape} is not an initializer "
                             "of the exported graph")
    decoders = []
    for name, array in state.items():
        (stored, *extra), node = _encode(name, array, weights)
        initializers[name].CopyFrom(stored)
        graph.initializer.extend(extra)
        decoders.append(node)
    renamed = {node.input[0]: node.output[0] for node in decoders}
    for node in graph.node:
        node.input[:] = [renamed.get(value, value) for value in node.input]
    nodes = decoders + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    graph_inputs = [value for value in graph.input if value.name not in initializers]
    del graph.input[:]
    graph.input.extend(graph_inputs)


def _inflate(path, data: bytes) -> bytes:
    """zlib data, decompressed to at most MAX_MODEL_BYTES: a package cannot make the client inflate without end."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_MODEL_BYTES)
    except zlib.error as err:
        raise InputError(f"{path}: corrupt zlib data ({err})") from None
    if inflater.unconsumed_tail:
        raise InputError(f"{path}: decompresses to more than {MAX_MODEL_BYTES >> 20} MiB, more than any model")
    if not inflater.eof:
        raise InputError(f"{path}: corrupt zlib data (truncated)")
    return out


def load(path, compression: str = "none") -> onnx.ModelProto:
    """The graph of a file written by `export`, decompressed in memory."""
    data = Path(path).read_bytes()
    if compression not in COMPRESSIONS:
        raise InputError(f"{path}: compression '{compression}' is not one this client reads "
                         f"({', '.join(COMPRESSIONS)})")
    if compression == "zlib":
        data = _inflate(path, data)
    try:
        return onnx.load_from_string(data)
    except DecodeError:
        raise InputError(f"{path}: not an ONNX file") from None


def load_weights(path, compression: str = "none") -> dict:
    """{state_dict name: float32 array} of a file written by `export` (see `weights_of`)."""
    return weights_of(load(path, compression), path)


def weights_of(proto: onnx.ModelProto, path) -> dict:
    """{state_dict name: float32 array} of a graph written by `export`: the fp16 initializers as
    float32 and the int8 ones dequantized, exactly the weights ONNX Runtime computes with. `path`
    names the file in errors."""
    initializers = {t.name: t for t in proto.graph.initializer}
    weights = {name: numpy_helper.to_array(t).astype(np.float32) for name, t in initializers.items()
               if t.data_type == TensorProto.FLOAT16}
    for node in proto.graph.node:
        if node.op_type == "DequantizeLinear" and set(node.input[:2]) <= set(initializers):
            weights[node.input[0]] = _dequantized(node, initializers, path)
    return weights


def _dequantized(node: onnx.NodeProto, initializers: dict, path) -> np.ndarray:
    name, scale_name = node.input[0], node.input[1]
    q, scale = (numpy_helper.to_array(initializers[n]) for n in (name, scale_name))
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    if axis != 0 or scale.shape != q.shape[:1]:
        raise InputError(f"{path}: scale '{scale_name}' {scale.shape} does not fit int8 weight '{name}' "
                         f"{q.shape} (one scale per output channel, axis 0; the node says axis {axis})")
    return dequantize(q, scale)


def with_weights(proto: onnx.ModelProto, weights: dict) -> onnx.ModelProto:
    """A copy of a graph written by `export` that computes with the given float32 weights ({state_dict
    name: array}, e.g. a base's plus a delta): each one's stored tensors and decoding node give way to a
    float32 initializer, so ONNX Runtime computes with exactly these weights."""
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    graph, decoded = out.graph, {f"{name}.float32": name for name in weights}
    decoders = [node for node in graph.node if node.output[0] in decoded]
    if len(decoders) != len(weights):
        raise ValueError(f"{len(weights)} weights given, the graph decodes {len(decoders)} of them")
    stored = {value for node in decoders for value in node.input}
    nodes = [node for node in graph.node if node.output[0] not in decoded]
    initializers = [t for t in graph.initializer if t.name not in stored]
    initializers += [numpy_helper.from_array(np.asarray(weights[decoded[node.output[0]]], np.float32), node.output[0])
                     for node in decoders]
    del graph.node[:], graph.initializer[:]
    graph.node.extend(nodes)
    graph.initializer.extend(initializers)
    return out


def input_names(proto: onnx.ModelProto) -> list[str]:
    return [value.name for value in proto.graph.input]


def packaged_weights(model, weights: str = "fp16") -> dict:
    """{state_dict name: float32 array}: the weights of the model's package file stored as `weights`."""
    return {name: decoded(name, array, weights) for name, array in _floating_state(model).items()}


def as_packaged(model, weights: str = "fp16"):
    """A copy of `model` whose floating state_dict tensors went through the package's storage
    `weights`: exactly the weights of its package file."""
    import torch

    packaged = copy.deepcopy(model)
    with torch.no_grad():
        for name, tensor in packaged.state_dict().items():  # these share storage with the copy's tensors
            if tensor.is_floating_point():
                tensor.copy_(torch.from_numpy(decoded(name, tensor.to("cpu", torch.float32).numpy(), weights)))
    return packaged


def bicubic_graph(scale: int) -> onnx.ModelProto:
    """Integer-factor bicubic upsampling as `stdo.resample` describes it, built without torch:
    Pad (edge, 2 px) -> grouped Conv with the fixed kernel -> DepthToSpace (CRD). Inputs and
    outputs as in `export`."""
    pad = resample.PAD
    constants = [numpy_helper.from_array(resample.bicubic_kernel(scale, 3), "kernel"),
                 numpy_helper.from_array(np.array([0, 0, pad, pad] * 2, dtype=np.int64), "pads")]
    nodes = [helper.make_node("Pad", ["lr", "pads"], ["padded"], mode="edge"),
             helper.make_node("Conv", ["padded", "kernel"], ["phases"], group=3),
             helper.make_node("DepthToSpace", ["phases"], ["sr"], blocksize=scale, mode="CRD")]
    graph = helper.make_graph(nodes, f"bicubic_x{scale}",
                              [helper.make_tensor_value_info("lr", TensorProto.FLOAT, _LR_DIMS)],
                              [helper.make_tensor_value_info("sr", TensorProto.FLOAT, _SR_DIMS)],
                              initializer=constants)
    opset = helper.make_opsetid("", OPSET)
    proto = helper.make_model(graph, opset_imports=[opset],
                              ir_version=helper.find_min_ir_version_for([opset]))
    onnx.checker.check_model(proto, full_check=True)
    return proto
