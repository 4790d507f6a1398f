"""The model files of a delivery package: ONNX graphs whose weights are stored in fp16.

A package ships each SR model as one ONNX file (opset 17; dynamic batch, height and width; input
"lr" float32 (N, 3, h, w) in [0, 1], plus "chunk" int64 (N,) for a CaFM model; output "sr"
float32 (N, 3, h*s, w*s)). Every floating tensor of the model's `state_dict` is an fp16
initializer, which halves the bytes to send, followed by a Cast to float32, so ONNX Runtime
computes in fp32. Other constants, such as the fixed bicubic kernel of `stdo.resample`, stay
float32. The initializers keep their `state_dict` names, so a client can also rebuild the
architecture from the registry and load `load_weights(path)` into it with PyTorch. Both runtimes
then hold exactly the weights of `rounded_to_fp16(model)`.

Only `export` and `rounded_to_fp16` need torch; a client reading a package needs only onnx."""
from __future__ import annotations

import copy
import io
import warnings
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import TensorProto, helper, numpy_helper

from .. import resample
from ..errors import InputError
from ..io import atomic_path

OPSET = 17
_LR_DIMS = ("n", 3, "h", "w")
_SR_DIMS = ("n", 3, "sr_h", "sr_w")


def export(model, path, *, cafm_chunks: int | None = None) -> dict:
    """Write `model` as an ONNX file with fp16-stored weights (see the module docstring); for a
    `stdo.models.CaFM` model, `cafm_chunks` must be its number of chunks. Returns what to record
    in a manifest: opset, weights ("fp16"), inputs, bytes (file size), params (count)."""
    from ..models import CaFM, count_params

    if isinstance(model, CaFM) != (cafm_chunks is not None) or (cafm_chunks and cafm_chunks != model.chunks):
        raise ValueError(f"cafm_chunks={cafm_chunks} does not describe a {type(model).__name__} model")
    inputs = ["lr", "chunk"] if cafm_chunks else ["lr"]
    proto = _trace(model, inputs)
    state = {name: t for name, t in model.state_dict().items() if t.is_floating_point()}
    _store_fp16(proto.graph, state)
    onnx.checker.check_model(proto, full_check=True)
    with atomic_path(path) as tmp:
        onnx.save(proto, tmp)
    return {"opset": OPSET, "weights": "fp16", "inputs": inputs, "bytes": Path(path).stat().st_size,
            "params": count_params(model)}


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


def _store_fp16(graph: onnx.GraphProto, state: dict) -> None:
    """Make each state_dict initializer fp16 and feed its consumers through a Cast to float32."""
    import torch

    initializers = {t.name: t for t in graph.initializer}
    for name, tensor in state.items():
        if name not in initializers or tuple(initializers[name].dims) != tuple(tensor.shape):
            raise ValueError(f"state_dict key '{name}' {tuple(tensor.shape)} is not an initializer "
                             "of the exported graph")
    casts, renamed = [], {}
    for name, tensor in state.items():
        half = tensor.detach().to("cpu", torch.float16)
        if bool(torch.isinf(half).any()) and bool(torch.isfinite(tensor).all()):
            raise ValueError(f"state_dict key '{name}' has values beyond the fp16 range (65504)")
        initializers[name].CopyFrom(numpy_helper.from_array(half.numpy(), name))
        renamed[name] = f"{name}.float32"
        casts.append(helper.make_node("Cast", [name], [renamed[name]], name=f"{name}.cast",
                                      to=TensorProto.FLOAT))
    for node in graph.node:
        node.input[:] = [renamed.get(value, value) for value in node.input]
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    graph_inputs = [value for value in graph.input if value.name not in initializers]
    del graph.input[:]
    graph.input.extend(graph_inputs)


def _load(path) -> onnx.ModelProto:
    try:
        return onnx.load(str(path))
    except DecodeError:
        raise InputError(f"{path}: not an ONNX file") from None


def load_weights(path) -> dict:
    """{state_dict name: float32 array} of the fp16 initializers of a file written by `export`."""
    return {t.name: numpy_helper.to_array(t).astype(np.float32)
            for t in _load(path).graph.initializer if t.data_type == TensorProto.FLOAT16}


def input_names(path) -> list[str]:
    return [value.name for value in _load(path).graph.input]


def rounded_to_fp16(model):
    """A copy of `model` whose floating state_dict tensors went through fp16: exactly the weights
    of its package file."""
    import torch

    rounded = copy.deepcopy(model)
    with torch.no_grad():
        for tensor in rounded.state_dict().values():  # these share storage with the copy's tensors
            if tensor.is_floating_point():
                tensor.copy_(tensor.to(torch.float16))
    return rounded


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
