"""The words the configuration, the stages, the tables and the docs share, in one place and free of torch and
PyAV, so that the start-up checks (every Snakemake process parses the workflow) refuse exactly what a job
would refuse.

- rate points: `lossless` and the names of the lossy ones (crf30, 500k, 62.5k), which are parts of paths;
- the reference rows every table has besides the methods: bicubic (the player's upscaling) and general;
- the encoders: each one's CRF range, presets and default preset (`stdo.delivery.stream` encodes with them)."""
from __future__ import annotations

from dataclasses import dataclass

LOSSLESS = "lossless"
LOSSY_PATTERN = r"crf[0-9]+|[0-9]+(\.[0-9]+)?k"  # rate point names in paths: crf30, 500k, 62.5k
RATE_PATTERN = f"{LOSSLESS}|{LOSSY_PATTERN}"

def rate_name(crf: int | None = None, kbps: float | None = None) -> str:
    """A rate point's name, used in paths: crf30, 500k, 62.5k."""
    return f"crf{crf}" if crf is not None else f"{kbps:g}k"


def rate_settings(name: str) -> dict:
    """The encoder setting a rate point's name stands for."""
    if name == LOSSLESS:
        return {"lossless": True}
    if name.startswith("crf"):
        return {"crf": int(name[3:])}
    return {"bitrate_kbps": float(name[:-1])}


REFERENCE_METHODS = ("bicubic", "general")  # what a player has without any per-video model
# The package format's words: how a model file stores its weights and is compressed, the client's runtimes and
# arithmetic, and the playback a manifest records (stdo.delivery: the writer, the schema and the player read them)
WEIGHTS = ("fp16", "int8")
COMPRESSIONS = ("none", "zlib")
RUNTIMES = ("torch", "onnx")
PRECISIONS = ("auto", "fp32", "bf16")
PLAYBACK = {"runtime": "torch", "precision": "auto", "pad": 0, "batch": 16, "block_frames": 2}
# What a chunk of a package ships (select, the manifest's routing.ships), the cheaper first: a tie goes to it
SHIPS = ("bicubic", "general", "trained")

X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")


@dataclass(frozen=True)
class Encoder:
    """An encoder of the vocabulary: its constant-quality range, its presets (names, or an integer range: SVT-AV1's
    preset, libvpx-vp9's cpu-used) and its default ladders, the codec block's rate keys where it gives none: the LR
    stream's (`crf` or `bitrate`) and the HR baseline's (`hr_crf` or `hr_bitrate`), chosen so that LR + SR and HR
    curves share a quality range holding at least three HR points (docs/experiments/ladders.md measured them)."""

    name: str
    crf: tuple[int, int]
    presets: tuple[str, ...] | range
    default_preset: str | int
    lr_ladder: dict
    hr_ladder: dict

    def preset_problem(self, preset) -> str | None:
        """Why `preset` is no preset of this encoder (None: it is one, or None for the default)."""
        if preset is None:
            return None
        if isinstance(self.presets, range):
            number = _integer(preset)
            if number is None or number not in self.presets:
                return (f"{self.name} preset must be an integer in {self.presets.start}..{self.presets.stop - 1}, "
                        f"got {preset!r}")
            return None
        if preset not in self.presets:
            return f"unknown {self.name} preset {preset!r} (known: {', '.join(self.presets)})"
        return None

    def crf_problem(self, crf) -> str | None:
        """Why `crf` is no constant-quality value of this encoder."""
        low, high = self.crf
        if isinstance(crf, bool) or _integer(crf) != crf or not low <= crf <= high:
            return f"crf for {self.name} must be an integer in {low}..{high}, got {crf!r}"
        return None

    def preset(self, preset) -> str:
        """The preset as the encoder takes it (a string), the default for None."""
        return str(self.default_preset if preset is None else (_integer(preset) if self.int_presets else preset))

    @property
    def int_presets(self) -> bool:
        return isinstance(self.presets, range)


def _integer(value) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


ENCODERS = {e.name: e for e in (
    Encoder("libx264", (0, 51), X26X_PRESETS, "medium", {"crf": (18, 23, 28, 33)},
            {"hr_crf": (27, 32, 37, 42, 47, 51)}),
    Encoder("libx265", (0, 51), X26X_PRESETS, "medium", {"crf": (18, 24, 30, 36)},
            {"hr_crf": (27, 33, 39, 42, 45, 48, 51)}),
    # SVT-AV1 and VP9 reach no HR quality below about 31.6 dB PSNR-Y on the 720p clip (not even by bitrate), where
    # x4 LR + SR ends: at x4 their overlap is thin (the BD-rate tables say so); the per-title hull uses them whole
    Encoder("libsvtav1", (1, 63), range(0, 14), 8, {"crf": (20, 35, 50, 60)}, {"hr_crf": (35, 45, 55, 60, 63)}),
    Encoder("libvpx-vp9", (0, 63), range(0, 9), 4,  # cpu-used; 6..8 run in realtime mode
            {"crf": (20, 35, 50, 60)}, {"hr_crf": (40, 50, 56, 60, 63)}),
)}


def fill_ladders(block: dict) -> dict:
    """The codec block with the encoder's default ladders where it gives no rate key of a stream."""
    encoder = ENCODERS[block["encoder"]]
    for keys, ladder in ((("crf", "bitrate"), encoder.lr_ladder), (("hr_crf", "hr_bitrate"), encoder.hr_ladder)):
        if not any(k in block for k in keys):
            block = {**block, **{k: list(v) for k, v in ladder.items()}}
    return block


def encoder(name: str) -> Encoder | None:
    return ENCODERS.get(name)


def sparse_update_problem(init: str, mode: str) -> str | None:
    """Why a model cannot be trained as a sparse update (fraction), where the training function itself can tell."""
    if mode == "cafm":
        return "not for mode cafm: its chunk modules are no part of the base and ship whole"
    if init == "scratch":
        return "a sparse update changes a few weights of a warm start, and init scratch has none"
    return None
