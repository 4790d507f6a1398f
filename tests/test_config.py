import copy

import pytest
import yaml
from conftest import REPO
from snakemake.utils import update_config

from stdo import config as stdo_config
from stdo import vocabulary
from stdo.delivery.player import PLAYBACK
from stdo.errors import InputError

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def shipped():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.fixture
def default():
    """The shipped config with self-contained packages (the schema's package defaults), which most edits below
    start from; `test_the_default_run_delivers_int8_deltas_to_a_resident_base` checks the shipped package block."""
    return {**shipped(), "package": {}}


def test_the_default_run_delivers_int8_deltas_to_a_resident_base():
    cfg = load(shipped())
    assert {k: cfg["package"][k] for k in ("base", "ship", "weights", "compression")} == {
        "base": "resident", "ship": "delta", "weights": "int8", "compression": "zlib"}
    assert stdo_config.decoded_start(cfg, "m0") == {"init_weights": "int8"}
    self_contained = load({**shipped(), "package": {"base": "none", "ship": "weights", "weights": "fp16",
                                                    "compression": "none"}})
    assert stdo_config.package_params(self_contained) == {"playback": {k: v for k, v in PLAYBACK.items()
                                                                       if k != "block_frames"}}


def load(cfg):
    return stdo_config.load(cfg, SCHEMA)


def deltas(cfg: dict) -> None:
    """Package settings under which models warm-started from the general model ship as deltas."""
    cfg["package"].update(base="resident", ship="delta", weights="int8")


def test_default_config_is_valid_and_gets_every_default(default):
    cfg = load(default)
    assert cfg["grids"] == {"x2": [20, 10], "x3": [10, 6], "x4": [10, 5]}
    assert cfg["videos"]["bigbuckbunny"] == {"path": "", "max_frames": None, "allow_truncated": False, "fps": None,
                                          "category": "bigbuckbunny"}
    assert cfg["threads"]["train"] == 1 and cfg["results_dir"] == "results"
    assert stdo_config.method(cfg, "stdo") == {"split": "stdo", "k": 4, "arch": "espcn", "arch_kwargs": {},
                                               "steps": 1200, "batch_size": 32, "crop": 32, "lr": 0.001, "loss": "l1",
                                               "init": "general", "mode": "per_chunk", "finetune": False,
                                               "curve_points": 20}
    assert cfg["budget"] == "total"
    assert stdo_config.model_files(cfg, "stdo") == ["chunk0.pt", "chunk1.pt", "chunk2.pt", "chunk3.pt"]
    assert stdo_config.model_files(cfg, "cafm") == stdo_config.model_files(cfg, "jstdo") == ["joint.pt"]
    assert stdo_config.general(cfg)["steps"] == 600
    assert cfg["codec"]["encoder"] == "libx265"
    assert stdo_config.lr_rates(cfg) == ["lossless", "crf18", "crf24", "crf30", "crf36"]
    assert stdo_config.train_rate(cfg, "crf30") == "lossless" and stdo_config.showcase_rate(cfg) == "crf24"
    # the schema's playback defaults are the player's (a manifest without them plays the same), and
    # the default model storage is left out of the package rule's params (they are as before it existed)
    assert stdo_config.package_params(cfg) == {"playback": {k: v for k, v in PLAYBACK.items() if k != "block_frames"}}
    assert {k: cfg["package"][k] for k in stdo_config.MODEL_STORAGE} == stdo_config.MODEL_STORAGE
    assert "bigbuckbunny" in default["videos"] and load(default) is not default


@pytest.mark.parametrize("edit,where", [
    (lambda c: c.update(scale=[4]), "'scale' was unexpected"),
    (lambda c: c["methods"]["stdo"].update(k=0), "methods.stdo.k"),
    (lambda c: c["methods"]["stdo"].update(kk=3), "methods.stdo: .*'kk'"),
    (lambda c: c["methods"]["stdo"].update(split="kmeans2"), "methods.stdo.split"),
    (lambda c: c.update(scales=[5]), "scales.0"),
    (lambda c: c["methods"].update(bicubic={"split": "none", "k": 1, "arch": "espcn", "steps": 1}), "methods"),
    (lambda c: c.update(device="gpu"), "device"),
    (lambda c: c["grids"].update(x4=[10]), "grids.x4"),
    (lambda c: c["methods"]["m0"].update(k=3), "methods.m0.k: split 'none' makes one chunk"),
    (lambda c: c["methods"]["m0"].update(arch="edsr9"), "methods.m0.arch: unknown 'edsr9'"),
    (lambda c: c.update(general="bicubic"), "methods.m0.init: 'general' needs a general model"),
    (lambda c: c["methods"]["m0"].update(arch="bicubic"), "methods.m0.init: the general model"),
    (lambda c: c["methods"]["jstdo"].update(keep=[1, 0]), "methods.jstdo.keep: jstdo needs one keep fraction"),
    (lambda c: c["methods"]["jstdo"].update(split="temporal"), "methods.jstdo.split: jstdo keeps chunks"),
    (lambda c: c["methods"]["stdo"].update(finetune=True), "methods.stdo.finetune: only for mode cafm"),
    (lambda c: c["methods"]["cafm"].update(finetune=True, init="scratch"), "methods.cafm.finetune"),
    (lambda c: c["methods"]["m0"].update(init="m0"),
     "methods.m0.init: 'm0' is not scratch, general or another method with split none"),
    (lambda c: (c["methods"].pop("m0"), c["methods"]["stdo"].update(init="m0")), "methods.stdo.init: 'm0'"),
    (lambda c: c.update(budget="equal"), "budget"),
    (lambda c: c["codec"].update(crf=[20], bitrate=[100]), "codec: give exactly one of crf and bitrate"),
    (lambda c: c["codec"].update(hr_crf=[30], hr_bitrate=[500]), "codec: give exactly one of hr_crf and hr_bitrate"),
    (lambda c: c["codec"].update(encoder="libx264", crf=[55]),
     r"codec.crf: crf for libx264 must be an integer in 0..51, got 55"),
    (lambda c: c["codec"].update(encoder="libsvtav1", crf=[0, 30]),
     r"codec.crf: crf for libsvtav1 must be an integer in 1..63, got 0"),
    (lambda c: c["codec"].update(encoder="libx265", hr_crf=[30, 52]),
     r"codec.hr_crf: crf for libx265 must be an integer in 0..51, got 52"),
    (lambda c: c["codec"].update(crf=[18, 28, 23]), r"codec.crf: \[18, 28, 23\] is not in order"),
    (lambda c: c["codec"].update(segment_seconds=0), r"codec.segment_seconds: 0 is less than or equal to the minimum"),
    (lambda c: c["codec"].update(hr_bitrate=[100, 62.5, 62.500001]),
     r"codec.hr_bitrate: .* repeats a rate point \(as folders: 100k, 62.5k, 62.5k\)"),
    (lambda c: c["codec"].update(hr_crf=[27, 32, 32]), r"codec.hr_crf: \[27, 32, 32\] has non-unique elements"),
    (lambda c: c["codec"].update(encoder="libsvtav1", preset="medium"),
     r"codec.preset: libsvtav1 preset must be an integer in 0..13, got 'medium'"),
    (lambda c: c["codec"].update(encoder="libvpx-vp9", preset=9),
     r"codec.preset: libvpx-vp9 preset must be an integer in 0..8, got 9"),
    (lambda c: c["codec"].update(preset="fastest"),
     r"codec.preset: unknown libx265 preset 'fastest' \(known: ultrafast"),
    (lambda c: c["codec"].update(train_on="crf20"), "codec.train_on: 'crf20' is neither 'each' nor one of"),
    (lambda c: c["codec"].update(encoder="h264"), "codec"),
    (lambda c: c.update(showcase={"rate": "crf99"}), "showcase.rate: 'crf99' is not one of the rate points"),
    (lambda c: c["methods"].update(lr={"split": "none", "k": 1, "arch": "espcn", "steps": 1}), "methods"),
    (lambda c: c["methods"]["cafm"].update(k=1), "methods.cafm.k: cafm modulates a shared backbone per chunk"),
    (lambda c: c["methods"]["m0"].update(arch_kwargs={"features": [8, 8], "width": 3}),
     "methods.m0.arch_kwargs: espcn takes no argument 'width'"),
    (lambda c: c["general"].update(arch_kwargs={"scale": 2}), "general.arch_kwargs: espcn takes no argument 'scale'"),
    (lambda c: c["methods"]["m0"].update(arch_kwargs={"features": [8, 8]}),
     r"methods.m0.init: the general model \(espcn {}\) has another architecture than the method \(espcn "),
    (lambda c: c["methods"]["jstdo"].update(keep=[0.0, 0.0, 0.0, 0.0]), "methods.jstdo.keep: .* keeps no patch"),
    (lambda c: c.update(label_by="dct"), "label_by"),
    (lambda c: c["methods"]["m0"].update(epochs=50), "methods.m0: give exactly one of steps and epochs"),
    (lambda c: c["methods"]["m0"].pop("steps"), "methods.m0: give exactly one of steps and epochs"),
    (lambda c: (c["methods"]["m0"].pop("steps"), c["methods"]["m0"].update(epochs=0)),
     "methods.m0.epochs: 0 is less than or equal to the minimum of 0"),
    (lambda c: c["general"].update(epochs=5), "general: give exactly one of steps and epochs"),
    (lambda c: c["methods"]["m0"].update(steps=10),
     "methods.m0: curve_points 20 is more than its 10 steps; set train.curve_points lower"),
    (lambda c: c.update(precision="fp8"), r"precision: 'fp8' is not one of \['auto', 'fp32', 'bf16', 'fp16'\]"),
    (lambda c: c.update(label_precision="fp16"), r"label_precision: 'fp16' is not one of \['auto', 'fp32', 'bf16'\]"),
    (lambda c: c["package"].update(precision="half"), r"package.precision: 'half' is not one of"),
    (lambda c: (c.update(label_by="features"), c["methods"]["stdo"].update(split="kmeans")),
     "methods.stdo.split: kmeans clusters on the general model's patch PSNR, which label_by: features"),
    (lambda c: c["package"].update(weights="int4"), r"package.weights: 'int4' is not one of \['fp16', 'int8'\]"),
    (lambda c: c["package"].update(compression="zstd"),
     r"package.compression: 'zstd' is not one of \['none', 'zlib'\]"),
    (lambda c: c["package"].update(base="local"), r"package.base: 'local' is not one of \['none', 'resident'\]"),
    (lambda c: c["package"].update(ship="diff"), r"package.ship: 'diff' is not one of \['weights', 'delta'\]"),
    (lambda c: c["package"].update(ship="delta"),
     "package.ship: delta sends models as their difference to the resident base, so it needs package.base: resident"),
    (lambda c: (c.update(general="bicubic"), c["package"].update(base="resident")),
     "package.base: resident installs the general model with the player, but general is bicubic"),
    (lambda c: c["methods"]["m0"].update(fraction=0.01),
     "methods.m0.fraction: a sparse update only pays where it ships as a delta .* needs package.ship: delta"),
    (lambda c: (deltas(c), c["methods"]["m0"].update(fraction=0)),
     "methods.m0.fraction: 0 is less than or equal to the minimum of 0"),
    (lambda c: (deltas(c), c["methods"]["m0"].update(fraction=1.5)),
     "methods.m0.fraction: 1.5 is greater than the maximum of 1"),
    (lambda c: (deltas(c), c["methods"]["cafm"].update(fraction=0.1)),
     "methods.cafm.fraction: not for mode cafm: its chunk modules are no part of the base and ship whole"),
    (lambda c: (deltas(c), c["methods"]["stdo"].update(fraction=0.1, init="m0")),
     r"methods.stdo.fraction: a sparse update of the general model, so it needs init: general \(not m0\)"),
])
def test_a_wrong_key_or_value_is_named(default, edit, where):
    cfg = copy.deepcopy(default)
    edit(cfg)
    with pytest.raises(InputError, match=where) as err:
        load(cfg)
    assert str(err.value).startswith("config: ") and "\n" not in str(err.value)


def test_the_package_rule_gets_the_model_storage_apart_from_the_playback(default):
    cfg = copy.deepcopy(default)
    cfg["package"].update(weights="int8", compression="zlib", pad=2)
    params = stdo_config.package_params(load(cfg))
    assert params == {"playback": {"pad": 2, "runtime": "torch", "precision": "auto", "batch": 16},
                      "weights": "int8", "compression": "zlib"}
    assert PLAYBACK.keys() >= params["playback"].keys()  # what the player takes, nothing else


def test_a_resident_base_is_passed_as_a_file_and_deltas_as_a_setting(default):
    """The package rule gets ship (left out at its default, weights) and the base's own file from the workflow,
    never the key package.base; the base is stored as the package's model files are."""
    cfg = copy.deepcopy(default)
    cfg["package"].update(base="resident", ship="delta", weights="int8")
    cfg = load(cfg)
    assert stdo_config.resident_base(cfg) and not stdo_config.resident_base(load(default))
    assert stdo_config.package_params(cfg) == {"playback": {"pad": 0, "runtime": "torch", "precision": "auto",
                                                            "batch": 16}, "weights": "int8", "ship": "delta"}
    assert stdo_config.base_params(cfg) == {"weights": "int8", "compression": "none"}
    assert load(default)["package"]["base"] == "none" and load(default)["package"]["ship"] == "weights"


def test_deltas_train_from_the_base_as_decoded_and_may_be_sparse(default):
    """Only where models ship as deltas do the warm starts from the general model get init_weights (finished
    runs at the default keep their train params); a sparse update (fraction) is then allowed."""
    assert all(stdo_config.decoded_start(load(default), name) == {} for name in default["methods"])
    cfg = copy.deepcopy(default)
    deltas(cfg)
    cfg["methods"]["m0"]["fraction"] = 0.01
    cfg["methods"]["stdo"]["init"] = "m0"
    cfg = load(cfg)
    assert stdo_config.decoded_start(cfg, "m0") == {"init_weights": "int8"} and cfg["methods"]["m0"]["fraction"] == 0.01
    assert stdo_config.decoded_start(cfg, "stdo") == {}  # from m0: shipped as weights, not as a delta


def test_general_bicubic_with_scratch_methods_is_fine(default):
    cfg = copy.deepcopy(default)
    cfg["general"] = "bicubic"
    cfg["train"] = {"init": "scratch"}
    assert stdo_config.general(load(cfg)) == "bicubic"


def test_general_checkpoint_form(default):
    cfg = copy.deepcopy(default)
    cfg["general"] = {"checkpoint": "weights/espcn_x{scale}.pt"}
    assert stdo_config.general(load(cfg)) == {"checkpoint": "weights/espcn_x{scale}.pt", "arch": "espcn",
                                              "arch_kwargs": {}}


def test_warm_start_from_the_videos_own_m0(default):
    cfg = copy.deepcopy(default)
    cfg["methods"]["stdo"]["init"] = "m0"
    assert stdo_config.warm_start(load(cfg), "stdo")["split"] == "none"


def merged_over_default(default, experiment: str) -> dict:
    """As Snakemake merges `--configfile config/experiments/<experiment>.yaml` over the default."""
    cfg = copy.deepcopy(default)
    update_config(cfg, yaml.safe_load((REPO / "config" / "experiments" / f"{experiment}.yaml").read_text()))
    return load(cfg)


def test_the_papers_protocol_merged_over_the_default_is_the_papers_alone(default):
    """Merged (Snakemake hands no --replace-workflow-config to the jobs it spawns), the default's clip and
    codec ladder are dropped by null and by codec: none, and every default method is redefined."""
    cfg = merged_over_default(default, "paper")
    alone = load(yaml.safe_load((REPO / "config" / "experiments" / "paper.yaml").read_text()))
    assert cfg == alone
    assert cfg["budget"] == "per_chunk" and cfg["scales"] == [2, 3, 4] and list(cfg["videos"]) == ["clip"]
    assert {"m0", "nas", "cafm", "stdo", "jstdo"} <= set(cfg["methods"]) and cfg["codec"] == "none"
    assert {m["arch"] for m in cfg["methods"].values()} == {"wdsr", "edsr"}


# experiments whose config merges over another's (the command on their page names both)
MERGED_OVER = {"crossover_bikes": "crossover", "crossover_upper": "crossover", "durations_bikes": "delivery_bikes",
               "protocol_bikes": "protocol", "paper_cut": "paper"}
CODEC_IN_THE_LOOP = ("codecs", "delivery_bikes", "durations_bikes", "hd45", "pad", "sparse", "train_on_each", "x2")


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (REPO / "config" / "experiments").glob("*.yaml")))
def test_finished_experiments_keep_the_settings_they_were_measured_with(default, experiment):
    """Defaults changed after these experiments ran (libx265, 2-second segments, the torch runtime); each config
    pins what it was measured with, so that re-running it reproduces its page instead of re-encoding and
    re-evaluating everything."""
    cfg = copy.deepcopy(default)
    for name in (MERGED_OVER.get(experiment), experiment):
        if name:
            update_config(cfg, yaml.safe_load((REPO / "config" / "experiments" / f"{name}.yaml").read_text()))
    if cfg.get("videos_from"):  # hd45's clip is made by a benchmark first; the bundled clip stands in for it
        cfg.update(videos=copy.deepcopy(default["videos"]))
        del cfg["videos_from"]
    cfg = load(cfg)
    assert cfg["package"]["runtime"] == "onnx"
    if experiment in CODEC_IN_THE_LOOP:
        assert cfg["codec"]["segment_seconds"] is None
        assert experiment == "codecs" or cfg["codec"]["encoder"] == "libx264"  # codecs: --config names it
    elif experiment != "streaming":
        assert cfg["codec"] == "none"


def test_a_method_set_to_null_is_dropped(default):
    assert set(merged_over_default(default, "train_on_each")["methods"]) == {"m0", "stdo"}


def test_null_from_the_command_line_drops_too(default):
    """`--config methods='{cafm: null}'` reaches the config as the string 'null' (Snakemake reads no YAML null)."""
    default["methods"]["cafm"] = "null"
    default["methods"]["m0"]["steps"] = "~"
    default["methods"]["m0"]["epochs"] = "2"
    cfg = load(default)
    assert "cafm" not in cfg["methods"] and cfg["methods"]["m0"]["epochs"] == 2 and "steps" not in cfg["methods"]["m0"]


def test_codec_none_keeps_the_lossless_setting_only(default):
    cfg = copy.deepcopy(default)
    cfg["codec"] = "none"
    cfg = load(cfg)
    assert stdo_config.lr_rates(cfg) == ["lossless"] and stdo_config.hr_rates(cfg) == []
    assert stdo_config.train_rate(cfg, "lossless") == "lossless"


def test_strings_from_the_command_line_become_the_numbers_the_schema_wants(default):
    default.update(scales=["2", "4"], eval_every="3", keep_frames="false",
                   videos={"2020": {"path": "2020"}})  # a string where a string is wanted stays one
    cfg = load(default)
    assert cfg["scales"] == [2, 4] and cfg["eval_every"] == 3 and cfg["keep_frames"] is False
    assert cfg["videos"]["2020"]["path"] == "2020"
    default.update(eval_every="3.5")
    with pytest.raises(InputError, match="config: eval_every: '3.5' is not of type 'integer'"):
        load(default)


SWEEP = {"steps": [600, 1200], "archs": {"big": {"arch": "espcn"}, "small": {"arch": "espcn",
                                                                          "arch_kwargs": {"features": [8, 8, 8]}}},
         "methods": {"m0": {"split": "none", "k": 1}, "stdo_k2": {"split": "stdo", "k": 2},
                     "ft": {"split": "stdo", "k": 2, "after": "m0"}}}


def test_a_sweep_makes_one_method_per_family_capacity_and_budget(default):
    cfg = load({**default, "methods": None, "train": {"init": "scratch"}, "sweep": SWEEP})
    cells = stdo_config.sweep_cells(cfg)
    assert list(cfg["methods"])[:5] == ["m0-big-300", "m0-big-600", "m0-big-1200", "m0-small-300", "m0-small-600"]
    assert len(cfg["methods"]) == 3 * 2 * 2 + 2  # and the m0 of 300 steps that ft-*-600 starts from
    ft = cfg["methods"]["ft-small-1200"]
    assert (ft["init"], ft["steps"], ft["arch_kwargs"]) == ("m0-small-600", 600, {"features": [8, 8, 8]})
    assert cells["ft-small-1200"] == {"family": "ft", "arch": "small", "total_steps": 1200}
    assert cfg["methods"]["stdo_k2-big-1200"]["steps"] == 1200 and "sweep" not in stdo_config.method(cfg, "m0-big-600")
    assert stdo_config.sweep_baseline(cfg) == "m0"
    assert load(cfg) == cfg  # loading a loaded config makes the same methods


@pytest.mark.parametrize("change, message", [
    (lambda s: s["methods"]["m0"].update(steps=5), "sweep.methods.m0: arch, arch_kwargs and steps come from the sweep"),
    (lambda s: s["methods"]["ft"].update(after="stdo_k3"), "sweep.methods.ft.after: 'stdo_k3' is not a one-stage"),
    (lambda s: s["methods"]["stdo_k2"].update(init="m0"), "methods.stdo_k2-big-600.init: 'm0' is not scratch, general"),
])
def test_a_bad_sweep_is_named(default, change, message):
    sweep = copy.deepcopy(SWEEP)
    change(sweep)
    with pytest.raises(InputError, match=message):
        load({**default, "methods": None, "train": {"init": "scratch"}, "sweep": sweep})


def test_no_method_at_all_is_named(default):
    with pytest.raises(InputError, match="config: no method: give methods"):
        load({**default, "methods": None})


def test_the_general_model_has_its_own_recipe_apart_from_the_methods_training(default):
    """The general model labels the patches: the methods' training defaults must not move it (or the chunks)."""
    cfg = load(default)
    other = copy.deepcopy(default)
    other["train"] = {"batch_size": 8, "crop": 16, "lr": 0.01}
    assert stdo_config.general_hash(load(other), 4) == stdo_config.general_hash(cfg, 4)
    assert {k: stdo_config.general(cfg)[k] for k in ("batch_size", "crop", "lr")} == {
        "batch_size": 32, "crop": 32, "lr": 0.001}
    other["general"] = {"batch_size": 8}
    assert stdo_config.general_hash(load(other), 4) != stdo_config.general_hash(cfg, 4)


def test_a_budget_in_epochs_replaces_the_steps(default):
    cfg = copy.deepcopy(default)
    cfg["methods"]["stdo"] = {"split": "stdo", "k": 4, "arch": "espcn", "epochs": 50}
    cfg["general"] = {"epochs": 2.5}
    loaded = load(cfg)
    assert stdo_config.method(loaded, "stdo")["epochs"] == 50 and "steps" not in stdo_config.method(loaded, "stdo")
    assert stdo_config.general(loaded)["epochs"] == 2.5 and "steps" not in stdo_config.general(loaded)


def test_a_method_key_set_to_null_is_dropped_so_epochs_can_replace_the_steps_of_a_merged_config(default):
    cfg = copy.deepcopy(default)
    cfg["methods"]["m0"].update(steps=None, epochs=50)  # what a --configfile merge over the default gives
    assert stdo_config.method(load(cfg), "m0")["epochs"] == 50 and "steps" not in load(cfg)["methods"]["m0"]


@pytest.mark.parametrize("encoder", sorted(vocabulary.ENCODERS))
def test_switching_the_encoder_alone_switches_its_preset_and_ladders(default, encoder):
    """The default config names no preset and no ladder: each encoder's own, which its range takes."""
    cfg = copy.deepcopy(default)
    cfg["codec"]["encoder"] = encoder
    block, own = stdo_config.codec(load(cfg)), vocabulary.ENCODERS[encoder]
    assert block["encoder"] == encoder and block["preset"] is None
    expected = {k: list(v) for k, v in {**own.lr_ladder, **own.hr_ladder}.items()}
    assert {k: block[k] for k in expected} == expected
    assert not any(own.crf_problem(v) for key in ("crf", "hr_crf") for v in block.get(key, []))
    cfg["codec"]["crf"] = [40]  # a ladder given is kept, the other stream's still the encoder's
    block = stdo_config.codec(load(cfg))
    assert block["crf"] == [40]
    assert {k: block[k] for k in own.hr_ladder} == {k: list(v) for k, v in own.hr_ladder.items()}


def schema_default(dotted: str):
    node = yaml.safe_load(SCHEMA.read_text())
    for part in dotted.split("."):
        node = next(n for n in [node, *node.get("oneOf", [])] if "properties" in n)["properties"][part]
    return node["default"]


def test_the_finished_runs_table_holds_the_schema_defaults_of_its_keys():
    """LATER_KEYS (stdo.config.params): each key added after results existed, with the value earlier runs had,
    which is its schema default; a key off it enters the params, one at it does not."""
    assert {key: schema_default(key) for key in stdo_config.LATER_KEYS} == stdo_config.LATER_KEYS


def test_segment_seconds_forces_keyframes_in_the_lr_and_hr_encodes_only_where_it_is_set(frames_dir, tmp_path):
    from tiny import snakemake, workdir

    root = workdir(tmp_path, frames_dir)
    plain = snakemake(root, "-n", "-p").stdout
    segmented = snakemake(root, "-n", "-p", "--config", "codec={encoder: libx264, segment_seconds: 2}").stdout
    assert '"segment_seconds"' not in plain
    encodes = [line for line in segmented.splitlines() if "stdo encode-" in line and "lossless" not in line]
    assert encodes and all('"segment_seconds": 2' in line for line in encodes)


def test_a_later_training_key_enters_the_train_params_only_off_its_old_value(default):
    before = stdo_config.train_params(load(default), "m0", 4)
    assert "loss" not in before and {"arch", "batch_size", "lr", "scale", "seed", "budget"} <= set(before)
    l2 = {**default, "train": {**default.get("train", {}), "loss": "l2"}}
    assert stdo_config.train_params(load(l2), "m0", 4) == {**before, "loss": "l2"}
    # a method may override it, alone
    per_method = copy.deepcopy(default)
    per_method["methods"]["stdo"]["loss"] = "l2"
    cfg = load(per_method)
    assert "loss" not in stdo_config.train_params(cfg, "m0", 4)
    assert stdo_config.train_params(cfg, "stdo", 4)["loss"] == "l2"
