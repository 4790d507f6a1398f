"""Videos, and the clips of a dataset folder (`videos_from`), found at start-up."""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError
from ..sources import IMAGE_SUFFIXES, VSD4K_HR

# Files of a dataset folder taken for videos (ingest decodes anything OpenCV's FFmpeg reads, but a folder
# also holds notes, lists and thumbnails: only these suffixes count as clips).
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mkv", ".mov", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".mts",
                            ".m2ts", ".flv", ".wmv", ".ogv", ".3gp", ".y4m"})


NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # the schema's $defs/name


def expand_videos(config: dict) -> None:
    """Every clip `videos_from` finds becomes an entry of `videos` (after the explicit ones, in natural order
    of its path), with its category; explicit entries without a category get their own name. Idempotent:
    entries an earlier expansion added (`found_in`) are found again, not taken for explicit ones."""
    spec = config.get("videos_from")
    videos = {name: entry for name, entry in (config["videos"] or {}).items()
              if spec is None or entry.get("found_in") != spec["folder"]}
    if not videos and spec is None:
        raise InputError("config: no video: give videos (name -> {path: ...}) or videos_from ({folder: ...}), "
                         "or both")
    for name, entry in videos.items():
        entry["category"] = entry["category"] or name
    if spec is not None:
        found = {}
        for rel in dataset_clips(spec["folder"], spec["pattern"]):
            name = clip_name(rel, spec["folder"])
            clash = found.get(name)
            if name in videos or clash is not None:
                other = f"videos.{name}" if clash is None else f"clip '{clash}'"
                raise InputError(f"config: videos_from: clip '{rel.as_posix()}' and {other} both get the video "
                                 f"name '{name}'; rename one, or list one under videos: with its own name")
            found[name] = rel.as_posix()
            videos[name] = {"path": str(Path(spec["folder"]) / rel), "max_frames": spec["max_frames"],
                            "allow_truncated": spec["allow_truncated"], "fps": spec["fps"],
                            "category": clip_category(rel, spec), "found_in": spec["folder"]}
    config["videos"] = videos


def dataset_clips(folder, pattern: str = "*") -> list[Path]:
    """The clips under `folder` that `pattern` (a glob relative to it) matches, as paths relative to it, in
    natural order. A clip is a video file (VIDEO_SUFFIXES), a VSD4K clip folder (DIV2K_train_HR/) or a folder
    of frames (images right in it); a matched folder that is none of them (a category folder) is searched for
    clips below it. Hidden entries, other files and clips inside a clip are left out."""

    root = Path(folder)
    where = f"config: videos_from: folder {folder}" + ("" if root.is_absolute() else f" (= {root.resolve()})")
    if not root.is_dir():
        raise InputError(f"{where}: {'not a folder' if root.exists() else 'no such folder'}")
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        raise InputError(f"config: videos_from.pattern: '{pattern}' must be a glob relative to the folder")

    def kind(path: Path):
        if path.is_dir():
            if (path / VSD4K_HR).is_dir():
                return "clip"
            entries = [p for p in path.iterdir() if not p.name.startswith(".")]
            return "clip" if any(p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() for p in entries) else "folder"
        return "clip" if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES else None

    clips, seen = set(), set()

    def visit(path: Path) -> None:
        rel = path.relative_to(root)
        hidden = any(part.startswith(".") for part in rel.parts)
        in_clip = any((root.joinpath(*rel.parts[:i]) / VSD4K_HR).is_dir() for i in range(len(rel.parts)))
        what = None if hidden or in_clip else kind(path)  # not the frame folders of a VSD4K clip
        if what == "clip":
            clips.add(rel)
        elif what == "folder" and path.resolve() not in seen:  # a link back up is searched once
            seen.add(path.resolve())
            for child in sorted(path.iterdir()):
                visit(child)

    try:
        matched = sorted(root.glob(pattern))
    except (ValueError, NotImplementedError) as err:
        raise InputError(f"config: videos_from.pattern: '{pattern}': {err}") from None
    for path in matched:
        visit(path)
    # a pattern such as **/* also matches the frame folders inside a VSD4K clip: keep the clip only
    clips = [c for c in clips if not any(other in c.parents for other in clips)]
    if not clips:
        hint = f"{len(matched)} entries matched, none is or holds" if matched else "nothing matched; expected"
        if kind(root) == "clip":
            hint += "; the folder itself is one clip: give it under videos: {name: {path: ...}}"
        raise InputError(f"{where}, pattern '{pattern}': no clip ({hint} a video file "
                         f"({', '.join(sorted(VIDEO_SUFFIXES))}), a VSD4K clip folder ({VSD4K_HR}/) "
                         f"or a folder of frames)")
    return sorted(clips, key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.as_posix())])


def _clip_stem(rel: Path) -> str:
    return rel.stem if rel.suffix.lower() in VIDEO_SUFFIXES else rel.name


def clip_name(rel: Path, folder="") -> str:
    """A clip's video name: its path under the dataset folder, video suffix dropped, folders joined by '-',
    every run of other characters than letters, digits and _ . - made one '_' and dropped at the ends (the
    names the schema and the wildcard constraints accept): game/clip 1.mp4 -> game-clip_1."""
    words = re.findall(r"[A-Za-z0-9_.-]+", "-".join([*rel.parent.parts, _clip_stem(rel)]))
    name = re.sub(r"^[^A-Za-z0-9]+", "", "_".join(words))
    if not NAME_PATTERN.match(name):
        raise InputError(f"config: videos_from: clip '{Path(folder) / rel}': no video name can be made of its "
                         f"path (letters, digits, _ . -); list it under videos: with a name")
    return name


def clip_category(rel: Path, spec: dict) -> str:
    """The category of a clip at `rel` under the dataset folder (see the schema's videos_from)."""
    if spec["category_from"] == "subfolder" and len(rel.parts) > 1:
        return rel.parts[0]
    if spec["category_from"] == "prefix" and "_" in _clip_stem(rel).strip("_"):
        return _clip_stem(rel).strip("_").split("_", 1)[0]
    return spec["category"] or Path(spec["folder"]).resolve().name or "dataset"
