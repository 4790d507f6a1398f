"""The package manifest's format, checked in code (`check`) before anything else reads it.

A manifest comes from the network. `stdo.delivery.manifest.open_package` checks its `format` and
`version`, then calls `check` right after parsing the JSON, before any file of the package is opened and
any array made, so that every later reader (the player, the server's evaluation) may index it as the
format says. A refusal is one `InputError`, "<manifest path>: <field>: <problem>", the field a JSON path
(`grid.cols`, `routing.chunk_model[2][0]`, `files["lr.mp4"].bytes`), for the first problem found.

What is checked (the writer is `stdo.package`: `build`, `_write`, `write_base`):
- scale 1..8; frames 1..10 million; fps a number > 0 and <= 1000;
- lr_size, hr_size: [width, height], integers in 1..16384, hr_size = lr_size x scale;
- grid: cols, rows 1..4096 and at most the LR width, height; patch_w = LR width // cols and
  patch_h = LR height // rows (`stdo.patches.Grid.fit`, leftover pixels dropped);
- playback (optional; the player's defaults fill what it leaves out): only the player's settings
  (runtime, precision as `stdo.delivery.player` reads them; pad 0..1024, batch 1..65536, block_frames 1..256);
- files: 1..65538 entries, each a plain file name (no folder, not . or .., not the manifest itself) ->
  {bytes 0..64 GiB, sha256 64 lowercase hex digits}; every file that stream, models or the map names is listed;
- stream: file; encoder; rate_control crf | bitrate | lossless with its crf (0..63) or bitrate_kbps, and
  a preset unless lossless; where given, frames, fps, width and height equal the manifest's and the
  other fields the encoder describes have their types;
- models: 1..65536 entries with arch (a string), arch_kwargs (an object), file (a listed name, or null for
  bicubic and the resident base), cafm_chunks (null or 1..65536), params (0..2^30), optional buffers,
  weights fp16 | int8, compression none | zlib, base (a boolean), delta {base: sha256, prefix};
  the base entry has no file and no delta, a delta has a file, both need the manifest's `base`;
- routing: by none (k = 1) | frames | map; k 1..65536; chunk_model k pairs [model index within models,
  CaFM chunk index within that model's cafm_chunks, or null]; by frames: frame_starts, k increasing
  frames from 0, each < frames; by map: map {file, compression zlib, dtype uint8 for k <= 256, else
  uint16} and at most 2^31 patches (frames x cols x rows); frame_starts and map only where routed so;
  optional ships: up to 65536 of trained | general | bicubic (one per selected chunk: not tied to k);
- base: required in version 2, refused in version 1: sha256, file (a plain name), arch, arch_kwargs,
  scale (the package's), weights, compression, bytes, params, optional buffers;
- about (optional): an object, free-form; source (optional): null or an object, free-form.

Forward compatibility: keys the format does not define are accepted and ignored at the top level, in
a model entry, `delta`, `base`, `stream`, `routing`, `routing.map` and a `files` entry (a newer writer
may describe more; a change a client must understand raises the version). The exception is `playback`,
whose keys become the player's keyword arguments: one it does not know is refused. A file of `files`
that nothing names is checked like the others (size, sha256) and otherwise ignored. Left to the readers
after this check: what the files hold (sizes and sha256 in `open_package`, the graphs in the player, the
chunk map's length and values in `Package.chunk_map`), whether `arch_kwargs` fit the architecture (the
torch runtime only) and whether a CaFM model's chunks are routed with a chunk index (its graph's
"chunk" input against `cafm_chunks`).

Only the standard library: the client's install stays small (no jsonschema)."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from ..errors import InputError
from ..vocabulary import COMPRESSIONS, PLAYBACK, PRECISIONS, RUNTIMES, SHIPS, WEIGHTS

MAX_SCALE = 8
MAX_FRAMES = 10_000_000
MAX_FPS = 1000
MAX_SIDE = 16384  # pixels of a frame's width or height, LR and HR
MAX_GRID = 4096  # patches in a row or a column
MAX_K = 65536  # chunks: a two-byte chunk map
MAX_MODELS = MAX_K
MAX_FILES = MAX_MODELS + 2  # the models, the stream and the map
MAX_FILE_BYTES = 64 << 30
MAX_PARAMS = 1 << 30  # onnx_model.MAX_MODEL_BYTES: a model file decompressed, one byte per weight at the least
MAX_MAP_PATCHES = 1 << 31  # a chunk map of two bytes per patch then takes 4 GiB
MAX_PAD, MAX_BATCH, MAX_BLOCK_FRAMES = 1024, 65536, 256
MAX_CRF = 63  # the largest of the encoders' ranges (stdo.vocabulary)
MAX_KBPS = 10**9
MAX_THREADS = 4096
MAX_TEXT = 1024  # characters of a name the format defines (arch, encoder, preset, prefix ...)
MAX_NAME = 255  # characters of a file name

# The words of other modules, repeated here so that this module imports nothing of theirs (the test checks
# they agree): stdo.delivery.onnx_model, stdo.delivery.player, stdo.select
PLAYBACK_KEYS = tuple(sorted(PLAYBACK))
ROUTING = ("none", "frames", "map")
RATE_CONTROLS = ("crf", "bitrate", "lossless")
MAP_COMPRESSIONS = ("zlib",)
STREAM_TEXT = ("container", "pix_fmt", "rate", "color_primaries", "color_trc", "colorspace", "color_range")

_SHA256 = re.compile(r"[0-9a-f]{64}")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MISSING = object()


class _Refused(Exception):
    def __init__(self, field: str, problem: str):
        super().__init__(field, problem)
        self.field, self.problem = field, problem


def check(manifest: dict, where) -> None:
    """Refuse a parsed manifest (an object whose format and version were checked) that is not as the
    format says: one InputError naming `where` (the manifest's path), the field and the problem."""
    try:
        _manifest(manifest, Path(where).name)
    except _Refused as refused:
        raise InputError(f"{where}: {refused.field}: {refused.problem}") from None


def shown(value) -> str:
    """A JSON value in a message, short whatever its size."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, float):
        return json.dumps(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 40 else value[:40] + "...")
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) > 1 else ''}" if value else "an empty list"
    return "an object"


# ---------------------------------------------------------------- the manifest, part by part


def _manifest(m: dict, manifest_name: str) -> None:
    scale = _int(_get(m, "scale"), "scale", 1, MAX_SCALE)
    frames = _int(_get(m, "frames"), "frames", 1, MAX_FRAMES)
    fps = _number(_get(m, "fps"), "fps", MAX_FPS)
    lr = _size(_get(m, "lr_size"), "lr_size")
    hr = _size(_get(m, "hr_size"), "hr_size")
    if hr != [lr[0] * scale, lr[1] * scale]:
        raise _Refused("hr_size", f"expected {[lr[0] * scale, lr[1] * scale]} (lr_size times scale {scale}), "
                                  f"got {hr}")
    grid = _grid(_object(_get(m, "grid"), "grid"), lr)
    playback = _get(m, "playback", required=False)
    if playback is not _MISSING:
        _playback(_object(playback, "playback"))
    files = _files(_object(_get(m, "files"), "files"), manifest_name)
    _stream(_object(_get(m, "stream"), "stream"), files, frames, fps, lr)
    has_base = _base(m, scale)
    models = _models(_list(_get(m, "models"), "models", 1, MAX_MODELS), files, has_base)
    _routing(_object(_get(m, "routing"), "routing"), files, models, frames, grid)
    about = _get(m, "about", required=False)
    if about is not _MISSING:
        _object(about, "about")
    source = _get(m, "source", required=False)
    if source is not _MISSING and source is not None and not isinstance(source, dict):
        raise _Refused("source", f"expected an object or null, got {shown(source)}")


def _size(value, field: str) -> list[int]:
    pair = _list(value, field, 2, 2, what="integers [width, height]")
    return [_int(v, f"{field}[{i}]", 1, MAX_SIDE) for i, v in enumerate(pair)]


def _grid(g: dict, lr: list[int]) -> tuple[int, int]:
    """(cols, rows), consistent with the LR frame as `stdo.patches.Grid.fit` makes them."""
    counts = {}
    for count, patch, side, along in (("cols", "patch_w", lr[0], "width"), ("rows", "patch_h", lr[1], "height")):
        n = _int(_get(g, count, "grid"), f"grid.{count}", 1, MAX_GRID)
        if n > side:
            raise _Refused(f"grid.{count}", f"{n} patches over the LR {along} of {side} px: expected at most {side}")
        size = _int(_get(g, patch, "grid"), f"grid.{patch}", 1, MAX_SIDE)
        if size != side // n:
            raise _Refused(f"grid.{patch}", f"expected {side // n} (the LR {along} {side} over {n} {count}), "
                                            f"got {size}")
        counts[count] = n
    return counts["cols"], counts["rows"]


def _playback(p: dict) -> None:
    for key in p:
        if key not in PLAYBACK_KEYS:
            raise _Refused(_dot("playback", key), f"not a playback setting (known: {', '.join(PLAYBACK_KEYS)})")
    checks = {"runtime": lambda v, f: _choice(v, f, RUNTIMES), "precision": lambda v, f: _choice(v, f, PRECISIONS),
              "pad": lambda v, f: _int(v, f, 0, MAX_PAD), "batch": lambda v, f: _int(v, f, 1, MAX_BATCH),
              "block_frames": lambda v, f: _int(v, f, 1, MAX_BLOCK_FRAMES)}
    for key, value in p.items():
        checks[key](value, f"playback.{key}")


def _files(files: dict, manifest_name: str) -> dict:
    if not 1 <= len(files) <= MAX_FILES:
        raise _Refused("files", f"expected 1..{MAX_FILES} files, got {len(files)}")
    for name, entry in files.items():
        field = f"files[{_quoted(name)}]"
        _file_name(name, field)
        if name == manifest_name:
            raise _Refused(field, "the manifest cannot list itself")
        entry = _object(entry, field)
        _int(_get(entry, "bytes", field), f"{field}.bytes", 0, MAX_FILE_BYTES)
        _sha256(_get(entry, "sha256", field), f"{field}.sha256")
    return files


def _listed(value, field: str, files: dict) -> str:
    """A plain file name that `files` lists."""
    name = _file_name(value, field)
    if name not in files:
        raise _Refused("files", f"lists no {json.dumps(name)}, which {field} names")
    return name


def _stream(s: dict, files: dict, frames: int, fps, lr: list[int]) -> None:
    _listed(_get(s, "file", "stream"), "stream.file", files)
    _text(_get(s, "encoder", "stream"), "stream.encoder")
    rate_control = _choice(_get(s, "rate_control", "stream"), "stream.rate_control", RATE_CONTROLS)
    crf = _get(s, "crf", "stream", required=rate_control == "crf")
    if crf is not _MISSING and (crf is not None or rate_control == "crf"):
        _int(crf, "stream.crf", 0, MAX_CRF)
    kbps = _get(s, "bitrate_kbps", "stream", required=rate_control == "bitrate")
    if kbps is not _MISSING and (kbps is not None or rate_control == "bitrate"):
        _number(kbps, "stream.bitrate_kbps", MAX_KBPS)
    preset = _get(s, "preset", "stream", required=rate_control != "lossless")
    if preset is not _MISSING and (preset is not None or rate_control != "lossless"):
        if isinstance(preset, bool) or not isinstance(preset, (str, int)):
            raise _Refused("stream.preset", f"expected a preset name or number, got {shown(preset)}")
        if isinstance(preset, str):
            _text(preset, "stream.preset")
        else:
            _int(preset, "stream.preset", 0, MAX_CRF)
    for key in STREAM_TEXT:
        if key in s:
            _text(s[key], f"stream.{key}")
    if "options" in s:
        for key, value in _object(s["options"], "stream.options").items():
            _text(value, _dot("stream.options", key))
    if "threads" in s:
        _int(s["threads"], "stream.threads", 1, MAX_THREADS)
    if "kbps" in s:
        _number(s["kbps"], "stream.kbps", MAX_KBPS, positive=False)
    for key, value, check in (("frames", frames, lambda v, f: _int(v, f, 1, MAX_FRAMES)),
                              ("fps", fps, lambda v, f: _number(v, f, MAX_FPS)),
                              ("width", lr[0], lambda v, f: _int(v, f, 1, MAX_SIDE)),
                              ("height", lr[1], lambda v, f: _int(v, f, 1, MAX_SIDE))):
        if key in s and check(s[key], f"stream.{key}") != value:
            raise _Refused(f"stream.{key}", f"expected {shown(value)} (the manifest's), got {shown(s[key])}")


def _base(m: dict, scale: int) -> bool:
    """Whether the manifest names a resident base (version 2 must, version 1 must not), checked."""
    base = _get(m, "base", required=m["version"] != 1)
    if base is _MISSING:
        return False
    if m["version"] == 1:
        raise _Refused("base", "a version 1 package needs no resident base (version 2 names one)")
    base = _object(base, "base")
    _sha256(_get(base, "sha256", "base"), "base.sha256")
    _file_name(_get(base, "file", "base"), "base.file")
    _architecture(base, "base")
    if _int(_get(base, "scale", "base"), "base.scale", 1, MAX_SCALE) != scale:
        raise _Refused("base.scale", f"expected {scale} (the package's scale), got {base['scale']}")
    _choice(_get(base, "weights", "base"), "base.weights", WEIGHTS)
    _choice(_get(base, "compression", "base"), "base.compression", COMPRESSIONS)
    _int(_get(base, "bytes", "base"), "base.bytes", 0, MAX_FILE_BYTES)
    _counts(base, "base")
    return True


def _architecture(entry: dict, field: str) -> str:
    arch = _text(_get(entry, "arch", field), f"{field}.arch")
    _object(_get(entry, "arch_kwargs", field), f"{field}.arch_kwargs")
    return arch


def _counts(entry: dict, field: str) -> None:
    _int(_get(entry, "params", field), f"{field}.params", 0, MAX_PARAMS)
    if "buffers" in entry:
        _int(entry["buffers"], f"{field}.buffers", 0, MAX_PARAMS)


def _models(models: list, files: dict, has_base: bool) -> list[dict]:
    for i, entry in enumerate(models):
        field = f"models[{i}]"
        entry = _object(entry, field)
        arch = _architecture(entry, field)
        file = _get(entry, "file", field)
        if file is not None:
            _listed(file, f"{field}.file", files)
        cafm = _get(entry, "cafm_chunks", field)
        if cafm is not None:
            _int(cafm, f"{field}.cafm_chunks", 1, MAX_K)
        _counts(entry, field)
        if "weights" in entry:
            _choice(entry["weights"], f"{field}.weights", WEIGHTS)
        if "compression" in entry and entry["compression"] not in COMPRESSIONS:
            if isinstance(file, str) and isinstance(entry["compression"], str):  # the words the player has used
                raise _Refused(f"{field}.compression", f"{file}: compression {entry['compression']!r} is not one "
                                                       f"this client reads ({', '.join(COMPRESSIONS)})")
            _choice(entry["compression"], f"{field}.compression", COMPRESSIONS)
        is_base = "base" in entry and _boolean(entry["base"], f"{field}.base")
        delta = entry["delta"] if "delta" in entry else None
        if delta is not None:
            delta = _object(delta, f"{field}.delta")
            _sha256(_get(delta, "base", f"{field}.delta"), f"{field}.delta.base")
            _text(_get(delta, "prefix", f"{field}.delta"), f"{field}.delta.prefix", empty=True)
        if is_base and file is not None:
            raise _Refused(f"{field}.file", f"expected null: the resident base ({field}.base) is not sent, "
                                            f"got {shown(file)}")
        if is_base and delta is not None:
            raise _Refused(f"{field}.delta", "the resident base itself has no delta")
        if delta is not None and file is None:
            raise _Refused(f"{field}.file", "expected the delta's file name, got null")
        if (is_base or delta is not None) and not has_base:
            raise _Refused(f"{field}.{'base' if is_base else 'delta'}",
                           "refers to a resident base, but the manifest names none (base)")
        if file is None and not is_base and arch != "bicubic":
            raise _Refused(f"{field}.file", f"expected a file name: a {shown(arch)} model is sent (only bicubic "
                                            f"and the resident base have none), got null")
    return models


def _routing(r: dict, files: dict, models: list[dict], frames: int, grid: tuple[int, int]) -> None:
    by = _choice(_get(r, "by", "routing"), "routing.by", ROUTING)
    k = _int(_get(r, "k", "routing"), "routing.k", 1, MAX_K)
    if by == "none" and k != 1:
        raise _Refused("routing.k", f"expected 1 (routing by none), got {k}")
    pairs = _list(_get(r, "chunk_model", "routing"), "routing.chunk_model", k, k,
                  what="[model index, CaFM chunk index or null] pairs, one per chunk (routing.k)")
    for c, pair in enumerate(pairs):
        field = f"routing.chunk_model[{c}]"
        model, cafm_chunk = _list(pair, field, 2, 2, what="items [model index, CaFM chunk index or null]")
        model = _int(model, f"{field}[0]", 0, len(models) - 1)
        if cafm_chunk is not None:
            chunks = models[model]["cafm_chunks"]
            if chunks is None:
                raise _Refused(f"{field}[1]", f"expected null (models[{model}] is no CaFM model), "
                                              f"got {shown(cafm_chunk)}")
            _int(cafm_chunk, f"{field}[1]", 0, chunks - 1)
    starts = _get(r, "frame_starts", "routing", required=by == "frames")
    if starts is not _MISSING:
        if by != "frames":
            raise _Refused("routing.frame_starts", f"only routing by frames has frame starts (routing.by is {by})")
        _frame_starts(_list(starts, "routing.frame_starts", k, k, what="first frames, one per chunk (routing.k)"),
                      frames)
    chunk_map = _get(r, "map", "routing", required=by == "map")
    if chunk_map is not _MISSING:
        if by != "map":
            raise _Refused("routing.map", f"only routing by map has a map (routing.by is {by})")
        _chunk_map(_object(chunk_map, "routing.map"), files, k, frames * grid[0] * grid[1])
    if "ships" in r:
        for i, ships in enumerate(_list(r["ships"], "routing.ships", 0, MAX_K)):
            _choice(ships, f"routing.ships[{i}]", SHIPS)


def _frame_starts(starts: list, frames: int) -> None:
    previous = -1
    for c, start in enumerate(starts):
        field = f"routing.frame_starts[{c}]"
        if c == 0 and start != 0:
            raise _Refused(field, f"expected 0 (the first chunk starts at the first frame), got {shown(start)}")
        if isinstance(start, bool) or not isinstance(start, int) or not previous < start < frames:
            raise _Refused(field, f"expected an integer > {previous} (the starts increase) and < {frames} (frames), "
                                  f"got {shown(start)}")
        previous = start


def _chunk_map(chunk_map: dict, files: dict, k: int, patches: int) -> None:
    if patches > MAX_MAP_PATCHES:
        raise _Refused("routing.map", f"a map of {patches} patches (frames x grid.cols x grid.rows); "
                                      f"this client reads up to {MAX_MAP_PATCHES}")
    _listed(_get(chunk_map, "file", "routing.map"), "routing.map.file", files)
    _choice(_get(chunk_map, "compression", "routing.map"), "routing.map.compression", MAP_COMPRESSIONS)
    dtype = "uint8" if k <= 256 else "uint16"  # stdo.delivery.manifest.map_dtype
    _choice(_get(chunk_map, "dtype", "routing.map"), "routing.map.dtype", (dtype,))


# ---------------------------------------------------------------- one value


def _get(obj: dict, key: str, field: str = "", required: bool = True):
    if key in obj:
        return obj[key]
    if required:
        raise _Refused(_dot(field, key), "required, missing")
    return _MISSING


def _dot(field: str, key: str) -> str:
    name = key if _KEY.fullmatch(key) else f"[{_quoted(key)}]"
    return f"{field}{name}" if name.startswith("[") else f"{field}.{name}" if field else name


def _quoted(key: str) -> str:
    """An object's key in a field's name, short whatever its size."""
    return json.dumps(key if len(key) <= 64 else key[:64] + "...")


def _int(value, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _Refused(field, f"expected an integer in {lo}..{hi}, got {shown(value)}")
    return value


def _number(value, field: str, hi, positive: bool = True):
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or isinstance(value, float) and not math.isfinite(value) \
            or not (0 < value if positive else 0 <= value) or value > hi:  # an int may be too large for a float
        raise _Refused(field, f"expected a number {'>' if positive else '>='} 0 and <= {hi}, got {shown(value)}")
    return value


def _text(value, field: str, empty: bool = False) -> str:
    if not isinstance(value, str) or not (0 if empty else 1) <= len(value) <= MAX_TEXT:
        raise _Refused(field, f"expected a{'' if empty else ' non-empty'} string of at most {MAX_TEXT} characters, "
                              f"got {shown(value)}")
    return value


def _choice(value, field: str, choices: tuple):
    if not isinstance(value, str) or value not in choices:
        raise _Refused(field, f"expected {'one of ' if len(choices) > 1 else ''}"
                              f"{', '.join(json.dumps(c) for c in choices)}, got {shown(value)}")
    return value


def _boolean(value, field: str) -> bool:
    if not isinstance(value, bool):
        raise _Refused(field, f"expected true or false, got {shown(value)}")
    return value


def _object(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise _Refused(field, f"expected an object, got {shown(value)}")
    return value


def _list(value, field: str, lo: int, hi: int, what: str = "items") -> list:
    if not isinstance(value, list) or not lo <= len(value) <= hi:
        count = f"{lo}" if lo == hi else f"{lo}..{hi}"
        raise _Refused(field, f"expected a list of {count} {what}, got {shown(value)}")
    return value


def _sha256(value, field: str) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise _Refused(field, f"expected a sha256 (64 lowercase hex digits), got {shown(value)}")
    return value


def _file_name(value, field: str) -> str:
    """A plain file name: the package's folder (or the bases folder) and this name, nothing else."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME or value in (".", "..") \
            or any(c in "/\\:" or ord(c) < 32 for c in value):
        raise _Refused(field, f"expected a plain file name (no folder, not . or .., at most {MAX_NAME} characters), "
                              f"got {shown(value)}")
    return value
