import json

import pytest
import torch

from stdo import models
from stdo.errors import InputError
from stdo.general import PHOTOS, make_general, photo_tiles


def test_photo_tiles_are_aligned_real_photos():
    lr, hr = photo_tiles(3, tile=24)
    assert lr.shape[1:] == (24, 24, 3) and hr.shape[1:] == (72, 72, 3) and len(lr) == len(hr) > 100
    assert 40 < hr.mean() < 220 and hr.std() > 20  # natural content, not blank
    assert len(PHOTOS) >= 9


def test_training_on_photos_writes_a_loadable_model(tmp_path):
    meta = make_general(tmp_path / "g.pt", 2, {"arch": "espcn", "arch_kwargs": {"features": [8, 8, 4]},
                                               "steps": 3, "batch_size": 2, "crop": 16, "lr": 1e-3}, device="cpu")
    model, sidecar = models.load_checkpoint(tmp_path / "g.pt")
    assert sidecar["source"] == "scikit-image photos" and sidecar["steps"] == 3 == meta["steps"]
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 3, 16, 16)


def test_a_users_checkpoint_is_checked_and_copied(tmp_path):
    weights = models.build("espcn", 4, features=(8, 8, 4)).state_dict()
    torch.save(weights, tmp_path / "mine_x4.pt")
    spec = {"checkpoint": str(tmp_path / "mine_x{scale}.pt"), "arch": "espcn", "arch_kwargs": {"features": [8, 8, 4]}}
    make_general(tmp_path / "g.pt", 4, spec)
    sidecar = json.loads((tmp_path / "g.json").read_text())
    assert sidecar["source"] == str(tmp_path / "mine_x4.pt") and len(sidecar["source_sha256"]) == 64
    with pytest.raises(InputError, match=r"mine_x2.pt: no such file"):
        make_general(tmp_path / "g2.pt", 2, spec)
    with pytest.raises(InputError, match="weights do not fit"):
        make_general(tmp_path / "g3.pt", 4, {**spec, "arch_kwargs": {}})
    assert not (tmp_path / "g2.pt").exists() and not (tmp_path / "g3.pt").exists()


def test_bicubic_general_model_has_no_parameters(tmp_path):
    make_general(tmp_path / "g.pt", 3, "bicubic")
    model, sidecar = models.load_checkpoint(tmp_path / "g.pt")
    assert sidecar["arch"] == "bicubic" and models.count_params(model) == 0
