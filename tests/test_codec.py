"""The codec stage on frames of the real clip: LR rate points decoded back, the lossless point bit-exact,
the HR baseline scored; rate-point names and the codec block of the configuration."""
from __future__ import annotations

import json

import numpy as np
import pytest

from stdo import codec, vocabulary
from stdo import config as stdo_config
from stdo.errors import InputError
from stdo.ingest import ingest


@pytest.fixture(scope="module")
def frames(frames_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("codec")
    ingest(frames_dir, root, [4], {4: (4, 2)})
    return root


def test_a_lossy_rate_point_writes_the_stream_and_what_it_decodes_to(frames, tmp_path):
    out = codec.encode_lr(frames / "lr_x4.npy", frames / "meta.json", tmp_path / "s.mp4", tmp_path / "c.json",
                          rate="crf30", encoder="libx264", preset="ultrafast", fps=12.5, out_frames=tmp_path / "f.npy")
    decoded, lr = np.load(tmp_path / "f.npy"), np.load(frames / "lr_x4.npy")
    assert decoded.shape == lr.shape and not np.array_equal(decoded, lr)
    assert np.abs(decoded.astype(int) - lr).mean() < 8  # a compressed copy, not noise
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved == out and saved["encoder"] == "libx264" and saved["bytes"] == (tmp_path / "s.mp4").stat().st_size
    assert saved["rate"] == "crf30" and saved["kbps"] == pytest.approx(8 * saved["bytes"] / (6 / 12.5) / 1000)


def test_the_lossless_rate_point_is_checked_bit_exact(frames, tmp_path):
    out = codec.encode_lr(frames / "lr_x4.npy", frames / "meta.json", tmp_path / "s.mkv", tmp_path / "c.json",
                          rate="lossless", fps=12.5)
    assert out["frames"] == 6 and (tmp_path / "s.mkv").stat().st_size == out["bytes"]


def test_the_hr_baseline_is_encoded_and_scored(frames, tmp_path):
    out = codec.encode_hr(frames / "hr.npy", frames / "meta.json", tmp_path / "h.mp4", tmp_path / "m.json",
                          rate="crf35", encoder="libx264", preset="ultrafast", info={"method": "hr_codec"})
    assert out["method"] == "hr_codec" and out["frames"] == 6 and out["fps"] == 30.0  # a frames folder: 30 fps
    assert 20 < out["rd_psnr_y"] < 45 and 0 < out["vmaf"] < 100 and out["package_bytes"] == out["stream_bytes"]


def test_odd_lr_frames_are_refused_before_encoding(tmp_path, bunny):
    np.save(tmp_path / "lr.npy", bunny[:, :41, :64])
    (tmp_path / "meta.json").write_text('{"fps": 25}')
    with pytest.raises(InputError, match="64x41 LR frames; the encoders need even sizes"):
        codec.encode_lr(tmp_path / "lr.npy", tmp_path / "meta.json", tmp_path / "s.mp4", tmp_path / "c.json",
                        rate="crf30")
    assert not (tmp_path / "s.mp4").exists() and not (tmp_path / "c.json").exists()


def test_rate_point_names_round_trip():
    assert vocabulary.rate_name(crf=30) == "crf30" and vocabulary.rate_name(kbps=62.5) == "62.5k"
    assert vocabulary.rate_settings("crf30") == {"crf": 30}
    assert vocabulary.rate_settings("62.5k") == {"bitrate_kbps": 62.5}
    assert vocabulary.rate_settings("lossless") == {"lossless": True}


def test_the_ladders_and_the_rate_the_models_were_trained_at():
    cfg = {"codec": {"encoder": "libx264", "crf": [18, 28], "hr_bitrate": [100, 400], "train_on": "lossless"},
           "showcase": {"rate": None}}
    assert stdo_config.lr_rates(cfg) == ["lossless", "crf18", "crf28"]
    assert stdo_config.hr_rates(cfg) == ["100k", "400k"]
    assert stdo_config.train_rate(cfg, "crf28") == "lossless"
    assert stdo_config.showcase_rate(cfg) == "crf18"
    cfg["codec"]["train_on"] = "each"
    assert stdo_config.train_rate(cfg, "crf28") == "crf28"
