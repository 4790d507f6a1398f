import subprocess
import sys

import pytest
import torch

from stdo import archs, models
from stdo.errors import InputError


def test_untrained_espcn_is_exactly_its_bicubic_skip():
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(models.build("espcn", 3)(x), models.build("bicubic", 3)(x))


def test_every_espcn_parameter_learns():
    torch.manual_seed(0)
    model = models.build("espcn", 2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = torch.rand(4, 3, 8, 8), torch.rand(4, 3, 16, 16)
    for _ in range(3):  # the tail starts at zero, so the body sees gradient from step 2
        opt.zero_grad()
        torch.nn.functional.l1_loss(model(x), y).backward()
        opt.step()
    for name, p in model.named_parameters():
        assert not torch.equal(p, before[name]), name
        assert torch.isfinite(p).all()


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(1)
    model = models.build("espcn", 4, features=(8, 8, 4))
    torch.nn.init.normal_(model.body[-2].weight)
    models.save_checkpoint(model, tmp_path / "m.pt", {"arch": "espcn", "scale": 4,
                                                      "arch_kwargs": {"features": [8, 8, 4]}})
    loaded, meta = models.load_checkpoint(tmp_path / "m.pt")
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(loaded(x), model.eval()(x))
    assert meta["params"] == models.count_params(model)


def test_a_file_that_is_not_a_state_dict_is_refused(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("not torch")
    with pytest.raises(InputError, match="bad.pt: not a state_dict file"):
        models.load_weights(models.build("espcn", 2), bad)


def test_weights_of_another_shape_are_refused(tmp_path):
    torch.save(models.build("espcn", 2, features=(8, 8, 4)).state_dict(), tmp_path / "small.pt")
    with pytest.raises(InputError, match=r"small.pt: weights do not fit ESPCN: shape body.0.weight \(8, 3, 3, 3\) "
                                         r"for \(64, 3, 3, 3\), .* and \d more$"):
        models.load_weights(models.build("espcn", 2), tmp_path / "small.pt")


def test_a_misfit_state_dict_names_its_missing_and_unexpected_keys(tmp_path):
    state = models.build("espcn", 2).state_dict()
    state["head.weight"] = state.pop("body.0.weight")
    torch.save(state, tmp_path / "renamed.pt")
    with pytest.raises(InputError, match="renamed.pt: weights do not fit ESPCN: missing body.0.weight; "
                                         "unexpected head.weight$"):
        models.load_weights(models.build("espcn", 2), tmp_path / "renamed.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(InputError, match="list.pt: not a state_dict"):
        models.load_weights(models.build("espcn", 2), tmp_path / "list.pt")


def test_the_light_catalog_lists_exactly_the_registered_architectures():
    assert archs.names() == models.names()  # every constructor's arguments were checked on registering
    with pytest.raises(TypeError, match="stdo/archs.py lists"):
        models.registry.register("espcn2")(lambda scale, features, skip: None)
    with pytest.raises(TypeError, match="'espcn' is registered twice"):
        models.registry.register("espcn")(lambda scale, features, skip: None)


def test_what_the_snakefile_imports_loads_no_torch_numpy_or_pandas():
    code = ("import sys, stdo.config, stdo.errors, stdo.sources; "
            "print(sorted(m for m in ('torch', 'numpy', 'pandas', 'cv2') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_unknown_arch_is_named():
    with pytest.raises(InputError, match="arch 'nope'"):
        models.build("nope", 2)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("shape", [(2, 3, 12, 10), (1, 1, 1, 1), (1, 3, 33, 47)])
def test_bicubic_as_a_convolution_equals_torch_interpolate(scale, shape):
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(scale))
    expected = torch.nn.functional.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    torch.testing.assert_close(models.upsample(x, scale, "bicubic"), expected, atol=1e-5, rtol=0)


def test_the_bicubic_skip_stays_fp32_under_bf16_autocast():
    x = torch.rand(1, 3, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = models.upsample(x, 4, "bicubic")
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, models.upsample(x, 4, "bicubic"))
