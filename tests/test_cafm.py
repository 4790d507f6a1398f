import copy

import torch

from stdo import models
from stdo.fitting import CropSampler, fit
from stdo.models.cafm import CaFM, modulated_convs


def noisy_espcn(scale=2, seed=0):
    torch.manual_seed(seed)
    model = models.build("espcn", scale, features=(16, 16, 8))
    torch.nn.init.normal_(model.body[-2].weight, std=0.05)  # a non-trivial backbone
    return model


def test_cafm_is_the_identity_of_its_backbone_at_initialisation():
    backbone = noisy_espcn()
    x = torch.rand(5, 3, 10, 10)
    torch.testing.assert_close(CaFM(backbone, 3)(x, torch.tensor([0, 1, 2, 1, 0])), backbone(x))


def test_each_sample_goes_through_its_own_chunks_modules_only():
    cafm = CaFM(noisy_espcn(), 3)
    with torch.no_grad():
        for i, gamma in enumerate(cafm.per_chunk[1].gamma):
            gamma.fill_(0.3 + i)
    x = torch.rand(4, 3, 10, 10)
    route = torch.tensor([0, 1, 2, 1])
    mixed = cafm(x, route)
    alone = torch.cat([cafm(x[i:i + 1], int(route[i])) for i in range(4)])
    torch.testing.assert_close(mixed, alone)
    backbone = cafm.backbone(x)
    torch.testing.assert_close(mixed[[0, 2]], backbone[[0, 2]])  # chunks 0 and 2 are still identity
    assert not torch.allclose(mixed[[1, 3]], backbone[[1, 3]])


def test_a_chunk_adds_2c_plus_1_parameters_per_modulated_conv():
    cafm = CaFM(noisy_espcn(), 4)
    assert [c.out_channels for c in modulated_convs(cafm.backbone)] == [16, 16, 8]
    assert cafm.params_per_chunk() == 33 + 33 + 17
    assert models.count_params(cafm) == models.count_params(cafm.backbone) + 4 * 83


def test_edsr_baseline_gets_the_published_4128_parameters_per_chunk():
    assert CaFM(models.build("edsr", 2), 3).params_per_chunk() == 4_128


def test_finetuning_one_chunk_changes_only_its_modules(bunny):
    cafm = CaFM(noisy_espcn(), 3)
    new = 2
    before = {k: v.clone() for k, v in cafm.state_dict().items()}
    hr = bunny[:2, :64, :64]
    lr = hr[:, ::2, ::2].copy()
    route = torch.full((len(lr),), new)
    fit(cafm, CropSampler(lr, hr, 2, 16, "cpu"), steps=5, batch_size=4, lr=1e-2,
        route=route, params=cafm.per_chunk[new].parameters())
    changed = {k for k, v in cafm.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith(f"per_chunk.{new}.") for k in changed)


def test_a_deep_copy_modulates_with_its_own_chunk_modules():
    torch.manual_seed(0)
    model = models.CaFM(models.build("espcn", 4, features=(8, 8, 4)), 3)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    twin = copy.deepcopy(model)
    x, chunk = torch.rand(3, 3, 8, 8), torch.tensor([0, 1, 2])
    torch.testing.assert_close(twin(x, chunk), model(x, chunk))
    with torch.no_grad():
        twin.per_chunk[1].gamma[0].add_(1.0)  # the copy's modules, not the original's, are used
    assert not torch.equal(twin(x, chunk)[1], model(x, chunk)[1]) and torch.equal(twin(x, chunk)[0], model(x, chunk)[0])
