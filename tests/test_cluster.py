import numpy as np
import pandas as pd
import pytest

from stdo.cluster import assign, cluster, split_kmeans, split_stdo, split_temporal
from stdo.errors import InputError
from stdo.io import load_chunks


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    frames, per_frame = 12, 10
    return pd.DataFrame({"patch_id": np.arange(frames * per_frame),
                         "frame": np.repeat(np.arange(frames), per_frame),
                         "row": 0, "col": np.tile(np.arange(per_frame), frames),
                         "psnr": rng.normal(32, 3, frames * per_frame),
                         "grad_energy": rng.gamma(2, 50, frames * per_frame),
                         "temporal_diff": rng.gamma(1, 2, frames * per_frame)}).assign(score=lambda t: t.psnr)


@pytest.mark.parametrize("k", [2, 3, 4, 6])
def test_stdo_split_makes_equal_chunks_ordered_from_hardest(table, k):
    chunk = split_stdo(table.psnr.to_numpy(), k)
    assert np.bincount(chunk).tolist() == [len(table) // k] * k
    for c in range(k - 1):
        assert table.psnr[chunk == c].max() <= table.psnr[chunk == c + 1].min()


def test_stdo_split_pools_patches_across_time(table):
    chunk = split_stdo(table.psnr.to_numpy(), 2)
    assert set(table.frame[chunk == 0]) != set() and len(set(table.frame[chunk == 0])) > 1


def test_stdo_split_of_an_uneven_count_differs_by_at_most_one():
    sizes = np.bincount(split_stdo(np.arange(10.0), 3))
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == 10


def test_temporal_split_is_contiguous_frame_ranges(table):
    chunk = split_temporal(table.frame.to_numpy(), 4)
    by_frame = pd.Series(chunk).groupby(table.frame).agg(["min", "max"])
    assert (by_frame["min"] == by_frame["max"]).all()  # a frame is never split
    assert by_frame["min"].tolist() == sorted(by_frame["min"]) == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3


def test_none_is_one_chunk(table):
    assert (assign(table, "none", 1) == 0).all()


@pytest.mark.parametrize("split,k,match", [("stdo", 121, "number of patches"), ("temporal", 13, "at least k frames"),
                                           ("none", 2, "exactly one chunk"), ("stdo", 0, "between 1")])
def test_impossible_k_is_refused(table, split, k, match):
    with pytest.raises(InputError, match=match):
        assign(table, split, k)


def test_cluster_writes_map_and_thresholds(table, tmp_path):
    table.to_parquet(tmp_path / "patches.parquet")
    summary = cluster(tmp_path / "patches.parquet", tmp_path / "c.parquet", tmp_path / "c.json", split="stdo", k=4)
    chunks = pd.read_parquet(tmp_path / "c.parquet")
    assert list(chunks.columns) == ["patch_id", "frame", "row", "col", "chunk"]
    assert summary["sizes"] == [30] * 4 and len(summary["thresholds"]) == 3
    assert summary["thresholds"] == sorted(summary["thresholds"])


def test_kmeans_split_numbers_clusters_from_hardest_and_is_seeded(table):
    chunk = split_kmeans(table, 3, seed=0)
    assert sorted(set(chunk)) == [0, 1, 2]
    means = [table.psnr[chunk == c].mean() for c in range(3)]
    assert means == sorted(means)
    np.testing.assert_array_equal(chunk, split_kmeans(table, 3, seed=0))


def test_kmeans_uses_the_content_features_not_only_psnr(table):
    # two groups that differ only in texture: psnr alone could not separate them
    textured = table.assign(psnr=32.0, grad_energy=np.where(table.patch_id % 2 == 0, 10.0, 1000.0))
    chunk = split_kmeans(textured, 2)
    assert len(set(chunk[textured.grad_energy == 10.0])) == 1 and len(set(chunk)) == 2


def test_chunk_map_loads_in_patch_order(table, tmp_path):
    table.to_parquet(tmp_path / "patches.parquet")
    cluster(tmp_path / "patches.parquet", tmp_path / "c.parquet", tmp_path / "c.json", split="temporal", k=3)
    shuffled = pd.read_parquet(tmp_path / "c.parquet").sample(frac=1, random_state=0)
    shuffled.to_parquet(tmp_path / "s.parquet")
    np.testing.assert_array_equal(load_chunks(tmp_path / "s.parquet"), load_chunks(tmp_path / "c.parquet"))


def test_a_table_labelled_before_the_labellers_existed_ranks_by_its_psnr(table, tmp_path):
    old = table.drop(columns="score")
    old.to_parquet(tmp_path / "old.parquet")
    cluster(tmp_path / "old.parquet", tmp_path / "c.parquet", tmp_path / "c.json", split="stdo", k=4)
    np.testing.assert_array_equal(load_chunks(tmp_path / "c.parquet"), split_stdo(table.psnr.to_numpy(), 4))

