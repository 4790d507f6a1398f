"""The manifest is untrusted input: every field of a real package's manifest removed, of another type or of an
absurd size is either accepted (where the format leaves it optional or free-form) or refused with one InputError
that names the manifest and the field; never any other exception, and nothing allocated by a declared size."""
from __future__ import annotations

import copy
import json
import re
import shutil
import tracemalloc
import zlib

import pytest
import torch

from stdo import cli, codec, models, package
from stdo.cluster import cluster
from stdo.delivery import manifest_schema, onnx_model, player, stream
from stdo.delivery.manifest import MANIFEST, open_package
from stdo.errors import InputError
from stdo.ingest import ingest
from stdo.io import sha256_files
from stdo.label import label

SMALL = {"features": [8, 8, 4]}
META = {"arch": "espcn", "scale": 4, "arch_kwargs": SMALL}


def nudged(model, seed: int):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator), alpha=0.05)
    return model


@pytest.fixture(scope="module")
def mixed(frames_dir, tmp_path_factory):
    """(package, bases folder): six real frames in three chunks routed by a map, which ship a trained model sent
    as a delta to the resident base, the base itself (not sent) and bicubic (no model): every kind of model entry
    but CaFM, a version 2 manifest naming its base."""
    root = tmp_path_factory.mktemp("schema")
    ingest(frames_dir, root, [4], {4: (4, 2)})
    models.save_checkpoint(models.build("bicubic", 4), root / "bicubic.pt", {"arch": "bicubic", "scale": 4})
    label(root / "lr_x4.npy", root / "hr.npy", root / "bicubic.pt", root / "patches.parquet", scale=4, grid=[4, 2],
          eval_every=4)
    cluster(root / "patches.parquet", root / "stdo.parquet", root / "stdo.json", split="stdo", k=3)
    general = nudged(models.build("espcn", 4, **SMALL), 0)
    models.save_checkpoint(general, root / "general.pt", META)
    for c in range(3):
        models.save_checkpoint(nudged(copy.deepcopy(general), c + 1), root / f"chunk{c}.pt",
                               {**META, "init": "general"})
    codec.encode_lr(root / "lr_x4.npy", root / "meta.json", root / "crf30.mp4", root / "crf30.json", rate="crf30",
                    encoder="libx264", preset="ultrafast", fps=12.5)
    package.write_base(root / "general.pt", root / "bases" / "x4.json")
    (root / "selection.json").write_text(json.dumps({"chunks": [{"chunk": c, "ships": s} for c, s in
                                                                enumerate(("trained", "general", "bicubic"))],
                                                     "fallbacks": 2}))
    out = root / "package"
    package.build(root / "crf30.mp4", root / "crf30.json", root / "patches.parquet", out, scale=4,
                  model_paths=[root / f"chunk{c}.pt" for c in range(3)], chunks_path=root / "stdo.parquet",
                  meta_path=root / "meta.json", selection_path=root / "selection.json",
                  general_path=root / "general.pt", base_path=root / "bases" / "x4.json", ship="delta",
                  info={"method": "test", "rate": "crf30"})
    return out, root / "bases"


def test_the_package_holds_every_kind_of_entry(mixed):
    manifest = json.loads((mixed[0] / MANIFEST).read_text())
    assert manifest["version"] == 2 and "base" in manifest and manifest["routing"]["by"] == "map"
    assert [("delta" in e, e.get("base", False), e["file"] is None) for e in manifest["models"]] == [
        (True, False, False), (False, True, True), (False, False, True)]
    assert open_package(*mixed[:1], base_dir=mixed[1]).manifest == manifest


def test_the_words_repeated_in_the_schema_are_those_of_their_modules():
    assert manifest_schema.WEIGHTS == onnx_model.WEIGHTS and manifest_schema.COMPRESSIONS == onnx_model.COMPRESSIONS
    assert manifest_schema.RUNTIMES == player.RUNTIMES and manifest_schema.PRECISIONS == player.PRECISIONS
    assert set(manifest_schema.PLAYBACK_KEYS) == set(player.PLAYBACK)
    assert manifest_schema.MAX_PARAMS == onnx_model.MAX_MODEL_BYTES


# ---------------------------------------------------------------- the fuzz


def field_name(path: tuple) -> str:
    """A path of keys and indices as the refusals name it: grid.cols, files["lr.mp4"].bytes, models[0].file."""
    name = ""
    for key in path:
        if isinstance(key, int):
            name += f"[{key}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            name += f".{key}" if name else key
        else:
            name += f"[{json.dumps(key)}]"
    return name


def fields(value, path=()):
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        yield path + (key,)
        yield from fields(item, path + (key,))


def retyped(value):
    """The value as another JSON type: int -> str, str -> list, object -> list, list -> object, null -> object."""
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def mutants(manifest: dict):
    """(field, kind, mutated manifest) for every field: removed, of another type, null for a number, absurd."""
    for path in fields(manifest):
        value = manifest
        for key in path:
            value = value[key]
        changes = [("removed", None), ("retyped", retyped(value))]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            changes += [("null", None), ("negative", -1), ("huge", 10**12)]
        for kind, new in changes:
            mutated = copy.deepcopy(manifest)
            parent = mutated
            for key in path[:-1]:
                parent = parent[key]
            if kind == "removed":
                del parent[path[-1]]
            else:
                parent[path[-1]] = new
            yield path, kind, mutated


# Where the format leaves a field free-form (anything goes inside), or optional (it may be left out). A model
# entry without its delta is well-formed too: a model sent whole, whose file then plays as its weights (the
# manifest is not signed: nothing can tell a delta's file from a model's, but the wrong frames).
FREE_FORM = re.compile(r"(about|source|models\[\d+\]\.arch_kwargs|base\.arch_kwargs)[.\[].*")
OPTIONAL = re.compile(r"about|source|playback(\.\w+)?|routing\.ships(\[\d+\])?"
                      r"|models\[\d+\]\.(weights|compression|delta)"
                      r"|stream\.(container|pix_fmt|rate|color_\w+|colorspace|options(\.\w+)?|threads|kbps|frames|fps"
                      r"|width|height|bitrate_kbps)")


def accepted(field: str, kind: str) -> bool:
    return bool(FREE_FORM.fullmatch(field) or kind == "removed" and OPTIONAL.fullmatch(field))


def parent(field: str) -> str:
    return re.sub(r"(\.\w+|\[[^\]]*\])$", "", field)


def related(named: str, mutated: str) -> bool:
    """Whether a refusal naming `named` names the mutated field: the field itself, an object or list holding
    it, a field beside it (a model entry's file when it loses its base flag), or the routing for a model entry."""
    return (mutated == named or mutated.startswith(named + ".") or mutated.startswith(named + "[")
            or parent(named) == parent(mutated)
            or mutated.startswith("models[") and named.startswith("routing.chunk_model"))


def write(folder, manifest: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest))


def outcome(folder, base_dir):
    """None (accepted) or the InputError's message; any other exception propagates."""
    try:
        open_package(folder, base_dir=base_dir)
    except InputError as err:
        return str(err)
    return None


def test_every_field_mutated_is_accepted_or_refused_by_name(mixed, tmp_path):
    folder, bases = shutil.copytree(mixed[0], tmp_path / "package"), mixed[1]
    manifest = json.loads((folder / MANIFEST).read_text())
    problems, counts = [], {"accepted": 0, "refused": 0}
    for path, kind, mutated in mutants(manifest):
        field = field_name(path)
        write(folder, mutated)
        try:
            message = outcome(folder, bases)
        except Exception as err:  # noqa: BLE001 - the point: name every mutant that ends in another exception
            problems.append(f"{field} {kind}: {type(err).__name__}: {err}")
            continue
        counts["accepted" if message is None else "refused"] += 1
        if message is None:
            if not accepted(field, kind):
                problems.append(f"{field} {kind}: accepted")
            continue
        prefix = f"{folder / MANIFEST}: "
        named = message[len(prefix):].split(": ", 1)[0] if message.startswith(prefix) else None
        if named is None or not related(named, field) or "\n" in message:
            problems.append(f"{field} {kind}: {message}")
    assert not problems, "\n".join(problems)
    assert counts["refused"] > 250 and counts["accepted"] > 50, counts  # measured: 302 and 126


# A sample played by `stdo play`: (field path, the manifest's change, what stderr says: None = played)
PLAYED = [
    ("about removed", lambda m: m.pop("about"), None),
    ("playback removed", lambda m: m.pop("playback"), None),
    ("unknown top-level key", lambda m: m.update(future={"anything": [1, 2]}), None),
    ("grid.cols", lambda m: m["grid"].update(cols="ten"), 'grid.cols: expected an integer in 1..4096, got "ten"'),
    ("routing.chunk_model[2][0]", lambda m: m["routing"]["chunk_model"][2].__setitem__(0, 10**12),
     "routing.chunk_model[2][0]: expected an integer in 0..2, got 1000000000000"),
    ("routing", lambda m: m.update(routing=[m["routing"]]), "routing: expected an object, got a list of 1 item"),
]


@pytest.mark.parametrize("change, error", [p[1:] for p in PLAYED], ids=[p[0] for p in PLAYED])
def test_stdo_play_plays_an_accepted_mutant_and_refuses_the_others_in_one_line(mixed, tmp_path, capsys, change,
                                                                               error):
    folder = shutil.copytree(mixed[0], tmp_path / "package")
    manifest = json.loads((folder / MANIFEST).read_text())
    change(manifest)
    write(folder, manifest)
    out = tmp_path / "sr.mp4"
    code = cli.main(["play", str(folder), "-o", str(out), "--base-dir", str(mixed[1]), "--threads", "1"])
    err = capsys.readouterr().err
    if error is None:
        assert code == 0, err
        assert stream.probe(out)["frames"] == 6
    else:
        assert code == 1 and not out.exists()
        assert err.strip().splitlines() == [f"stdo play: error: {folder / MANIFEST}: {error}"]


# ---------------------------------------------------------------- declared sizes, and bombs


def peak_bytes(call) -> tuple[int, object]:
    """The peak of memory allocated (Python and NumPy) while `call` runs, and what it raised."""
    tracemalloc.start()
    try:
        call()
        raised = None
    except InputError as err:
        raised = err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, raised


def absurd_frames(m):
    m["frames"] = m["stream"]["frames"] = 10**9


def absurd_geometry(m):
    m["lr_size"], m["hr_size"] = [250_000, 250_000], [10**6, 10**6]


def absurd_map(m):
    """Every size within its bounds, and agreeing, but a map of 10 million frames of 4096 x 4096 patches."""
    m["frames"] = m["stream"]["frames"] = 10_000_000
    m["lr_size"], m["hr_size"] = [4096, 4096], [16384, 16384]
    m["stream"].update(width=4096, height=4096)
    m["grid"] = {"cols": 4096, "rows": 4096, "patch_w": 1, "patch_h": 1}


@pytest.mark.parametrize("change, message", [
    (absurd_frames, "frames: expected an integer in 1..10000000, got 1000000000"),
    (absurd_geometry, "lr_size[0]: expected an integer in 1..16384, got 250000"),
    (absurd_map, "routing.map: a map of 167772160000000 patches (frames x grid.cols x grid.rows); this client "
                 "reads up to 2147483648"),
], ids=["frames", "geometry", "map"])
def test_an_absurd_declared_size_is_refused_before_anything_is_allocated(mixed, tmp_path, change, message):
    folder = shutil.copytree(mixed[0], tmp_path / "package")
    manifest = json.loads((folder / MANIFEST).read_text())
    change(manifest)
    write(folder, manifest)
    peak, raised = peak_bytes(lambda: open_package(folder, base_dir=mixed[1]))
    assert str(raised) == f"{folder / MANIFEST}: {message}"
    assert peak < 50 << 20


def test_a_chunk_map_that_inflates_beyond_the_manifest_is_refused_without_inflating_it(mixed, tmp_path):
    folder = shutil.copytree(mixed[0], tmp_path / "package")
    (folder / "chunks.bin").write_bytes(zlib.compress(bytes(64 << 20), 9))  # 64 MB of zeros in 64 kB
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"]["chunks.bin"] = {"bytes": (folder / "chunks.bin").stat().st_size,
                                       "sha256": sha256_files([folder / "chunks.bin"])}
    write(folder, manifest)
    pkg = open_package(folder, base_dir=mixed[1])
    peak, raised = peak_bytes(pkg.chunk_map)
    assert "chunks.bin: chunk map of 49 patches does not fit the manifest (48 patches, k = 3)" in str(raised)
    assert peak < 50 << 20


@pytest.mark.parametrize("text, message", [
    ("[]", "not a stdo-package manifest (not a JSON object)"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON (nested too deep)"),
    ('{"a": ' * 100_000 + "1" + "}" * 100_000, "not valid JSON (nested too deep)"),
    ('{"frames": ' + "9" * 5000 + "}", "not valid JSON (Exceeds the limit"),
    ('{"format": "stdo-package", "version": true}', "version: package format version true is not supported"),
    ('{"format": ["stdo-package"]}', 'format: not a stdo-package manifest (got a list of 1 item)'),
    ('{"format": "stdo-package"}', "version: required, missing"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
], ids=["list", "deep list", "deep object", "long integer", "boolean version", "format", "no version",
                            "encoding"])
def test_a_manifest_that_is_not_one_is_refused_in_one_line(tmp_path, text, message):
    (tmp_path / MANIFEST).write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(InputError) as err:
        open_package(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / MANIFEST}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_keys_are_accepted_but_in_playback(mixed, tmp_path):
    folder = shutil.copytree(mixed[0], tmp_path / "package")
    manifest = json.loads((folder / MANIFEST).read_text())
    for part in (manifest, manifest["models"][0], manifest["stream"], manifest["routing"], manifest["base"],
                 manifest["files"]["lr.mp4"], manifest["models"][0]["delta"]):
        part["from_the_future"] = {"x": [1]}
    write(folder, manifest)
    assert open_package(folder, base_dir=mixed[1]).manifest == manifest
    manifest["playback"]["speed"] = 2
    write(folder, manifest)
    with pytest.raises(InputError, match=r"manifest.json: playback.speed: not a playback setting \(known: batch, "):
        open_package(folder, base_dir=mixed[1])


@pytest.mark.parametrize("change, message", [
    (lambda m: m["files"].update({"../lr.mp4": m["files"]["lr.mp4"]}),
     'files["../lr.mp4"]: expected a plain file name (no folder, not . or .., at most 255 characters), '
     'got "../lr.mp4"'),
    (lambda m: m["files"].update({"manifest.json": m["files"]["lr.mp4"]}),
     'files["manifest.json"]: the manifest cannot list itself'),
    (lambda m: m["stream"].update(file="/etc/passwd"), 'stream.file: expected a plain file name'),
    (lambda m: m["base"].update(file=".."), 'base.file: expected a plain file name'),
    (lambda m: m["files"].pop("chunks.bin"), 'files: lists no "chunks.bin", which routing.map.file names'),
    (lambda m: m["routing"].update(k=2), "routing.chunk_model: expected a list of 2 [model index, CaFM chunk index "
                                         "or null] pairs, one per chunk (routing.k), got a list of 3 items"),
    (lambda m: m["routing"]["chunk_model"][0].__setitem__(1, 0),
     "routing.chunk_model[0][1]: expected null (models[0] is no CaFM model), got 0"),
    (lambda m: m["routing"].update(by="frames"), "routing.frame_starts: required, missing"),
    (lambda m: m["routing"].update(by="frames", frame_starts=[0, 3, 3]),
     "routing.frame_starts[2]: expected an integer > 3 (the starts increase) and < 6 (frames), got 3"),
    (lambda m: m["routing"]["map"].update(dtype="uint16"), 'routing.map.dtype: expected "uint8", got "uint16"'),
    (lambda m: m["grid"].update(patch_w=17), "grid.patch_w: expected 16 (the LR width 64 over 4 cols), got 17"),
    (lambda m: m.update(hr_size=[256, 161]), "hr_size: expected [256, 160] (lr_size times scale 4), got [256, 161]"),
    (lambda m: m["stream"].update(frames=7), "stream.frames: expected 6 (the manifest's), got 7"),
    (lambda m: m.update(fps=float("nan")), "fps: expected a number > 0 and <= 1000, got nan"),
    (lambda m: m.update(fps=10**400), "fps: expected a number > 0 and <= 1000, got an integer of 1329 bits"),
    (lambda m: m["models"][1].update(base=False), 'models[1].file: expected a file name: a "espcn" model is sent'),
    (lambda m: m["models"][0].update(file=None), "models[0].file: expected the delta's file name, got null"),
    (lambda m: m.update(version=1), "base: a version 1 package needs no resident base (version 2 names one)"),
    (lambda m: m["base"].update(scale=2), "base.scale: expected 4 (the package's scale), got 2"),
    (lambda m: m["files"]["lr.mp4"].update(sha256="F" * 64),
     'files["lr.mp4"].sha256: expected a sha256 (64 lowercase hex digits), got "FFFF'),
    (lambda m: m["playback"].update(pad=None), "playback.pad: expected an integer in 0..1024, got null"),
])
def test_what_the_writer_guarantees_is_checked(mixed, tmp_path, change, message):
    folder = shutil.copytree(mixed[0], tmp_path / "package")
    manifest = json.loads((folder / MANIFEST).read_text())
    change(manifest)
    (folder / MANIFEST).write_text(json.dumps(manifest, allow_nan=True))
    with pytest.raises(InputError) as err:
        open_package(folder, base_dir=mixed[1])
    assert str(err.value).startswith(f"{folder / MANIFEST}: {message}")


def test_the_most_chunks_the_format_allows_are_accepted_without_arrays(mixed, tmp_path):
    """65,536 chunks routed by frames (the check makes no array and walks each list once)."""
    folder = shutil.copytree(mixed[0], tmp_path / "package")
    manifest = json.loads((folder / MANIFEST).read_text())
    k = manifest_schema.MAX_K
    manifest.update(frames=k, routing={"by": "frames", "k": k, "frame_starts": list(range(k)),
                                       "chunk_model": [[0, None]] * k})
    manifest["stream"]["frames"] = k
    write(folder, manifest)
    peak, raised = peak_bytes(lambda: open_package(folder, base_dir=mixed[1]))
    assert raised is None and peak < 50 << 20
