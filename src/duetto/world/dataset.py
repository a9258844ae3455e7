"""Toybox datasets on disk: sharded, multi-process, resumable writing, and a reader for trainers.

A dataset folder holds `manifest.json` (the render parameters) and shards `shard-00000.npz`, … Each
shard is a zip of NumPy `.npy` members plus `index.json` (captions and ground truth per clip). Toybox
frames are flat colours that change only where something moves, so a clip's frames are stored as its
first frame plus, for every later frame, the pixels that changed (`key`, `delta_counts`,
`delta_index`, `delta_rgb`); audio is stored as float16 or float32 (`audio`). Shards are written to
a temporary file and renamed, so a shard that exists is complete, and a rerun skips it.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from duetto.clip import Clip
from duetto.world.render import check_params, render
from duetto.world.sample import random_scene

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_PARAMS = (
    "seed",
    "width",
    "height",
    "fps",
    "seconds",
    "sample_rate",
    "shard_size",
    "audio_dtype",
    "max_objects",
    "allow_toys",
)


@dataclass
class DatasetItem:
    """One clip read back from a dataset, with its caption and ground truth."""

    index: int
    frames: np.ndarray  # uint8 (T, H, W, 3)
    audio: np.ndarray  # float32 (samples,)
    caption: str
    truth: dict[str, Any]
    fps: float
    sample_rate: int

    @property
    def clip(self) -> Clip:
        return Clip(
            self.frames,
            self.audio,
            self.fps,
            self.sample_rate,
            {"prompt": self.caption, "seed": self.truth.get("seed")},
        )


@dataclass
class DatasetReport:
    """What `write_dataset` did: shards written now, shards already complete, clips in the dataset."""

    folder: Path
    written: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    clips: int = 0


# --- frame codec ------------------------------------------------------------------------------------


def encode_frames(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Split frames (T, H, W, 3) into the first frame and the pixels each later frame changes."""
    t, h, w, _ = frames.shape
    flat = frames.reshape(t, h * w, 3)
    frame_of, pixel = _changed_pixels(frames)
    return {
        "key": np.ascontiguousarray(frames[0]),
        "delta_counts": np.bincount(frame_of, minlength=t - 1).astype(np.int64),
        "delta_index": pixel.astype(np.uint32),
        "delta_rgb": flat[1:][frame_of, pixel],
    }


def _changed_pixels(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frame - 1, pixel) of every pixel that differs from the previous frame, sorted by frame then pixel.

    Comparing 8 bytes at a time finds the few changed spots quickly; only those are checked per pixel.
    """
    t, h, w, _ = frames.shape
    size = h * w * 3
    padded = -(-size // 8) * 8
    raw = frames.reshape(t, size)
    if padded != size:
        raw = np.zeros((t, padded), dtype=np.uint8)
        raw[:, :size] = frames.reshape(t, size)
    words = np.ascontiguousarray(raw).view(np.uint64)
    changed = np.flatnonzero(words[1:] != words[:-1])  # flat: much faster than a 2-D nonzero()
    frame_of, word = np.divmod(changed, words.shape[1])
    byte = (word[:, None] * 8 + np.arange(8)).reshape(-1)
    cand_frame = np.repeat(frame_of, 8)
    keep = byte < size
    key = cand_frame[keep] * (h * w) + byte[keep] // 3  # already sorted: nonzero() is row-major
    key = key[np.r_[True, key[1:] != key[:-1]]] if len(key) else key
    cand_frame, cand_pixel = key // (h * w), key % (h * w)
    flat = frames.reshape(t, h * w, 3)
    differs = np.any(flat[cand_frame + 1, cand_pixel] != flat[cand_frame, cand_pixel], axis=-1)
    return cand_frame[differs], cand_pixel[differs]


def decode_frames(
    key: np.ndarray, delta_counts: np.ndarray, delta_index: np.ndarray, delta_rgb: np.ndarray
) -> np.ndarray:
    """Rebuild frames (T, H, W, 3) from `encode_frames` output."""
    h, w, _ = key.shape
    frames = np.empty((len(delta_counts) + 1, h * w, 3), dtype=np.uint8)
    frames[0] = key.reshape(h * w, 3)
    ends = np.cumsum(delta_counts)
    starts = ends - delta_counts
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        frames[i + 1] = frames[i]
        frames[i + 1, delta_index[a:b]] = delta_rgb[a:b]
    return frames.reshape(len(delta_counts) + 1, h, w, 3)


# --- writing ----------------------------------------------------------------------------------------


def clip_seed(seed: int, index: int) -> int:
    """The render seed of clip `index` in a dataset made with `seed` (independent of sharding)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def render_item(index: int, params: dict[str, Any]):
    """Render clip `index` of a dataset with `params` (the manifest's parameters)."""
    s = clip_seed(params["seed"], index)
    facts = random_scene(
        np.random.default_rng(s), max_objects=params["max_objects"], allow_toys=params["allow_toys"]
    )
    return render(
        facts,
        width=params["width"],
        height=params["height"],
        fps=params["fps"],
        seconds=params["seconds"],
        sample_rate=params["sample_rate"],
        seed=s,
    )


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _write_shard(folder: str, shard: int, n: int, params: dict[str, Any], mp4: bool) -> int:
    """Render and write one shard atomically; returns the number of clips in it."""
    first = shard * params["shard_size"]
    indices = range(first, min(first + params["shard_size"], n))
    target = Path(folder) / f"shard-{shard:05d}.npz"
    temp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    index = []
    try:
        with zipfile.ZipFile(temp, "w", allowZip64=True) as zf:
            for i in indices:
                result = render_item(i, params)
                parts = encode_frames(result.clip.frames)
                parts["audio"] = result.clip.audio.astype(params["audio_dtype"])
                for name, array in parts.items():
                    # Audio is noise-like and barely compresses; the frame parts compress well.
                    kind = zipfile.ZIP_STORED if name == "audio" else zipfile.ZIP_DEFLATED
                    zf.writestr(f"{i:08d}/{name}.npy", _npy(array), compress_type=kind, compresslevel=1)
                index.append({"index": i, "caption": result.truth["caption"], "truth": result.truth})
                if mp4:
                    _write_mp4(Path(folder), i, result)
            zf.writestr(
                "index.json",
                json.dumps({"version": FORMAT_VERSION, "clips": index}),
                compress_type=zipfile.ZIP_DEFLATED,
            )
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return len(indices)


def _write_mp4(folder: Path, index: int, result) -> None:
    from duetto.media import write_mp4  # only needed when MP4s are asked for

    out = folder / "mp4"
    out.mkdir(exist_ok=True)
    write_mp4(result.clip, out / f"{index:08d}.mp4")
    (out / f"{index:08d}.json").write_text(json.dumps(result.truth))


def _manifest(folder: Path, n: int, params: dict[str, Any]) -> None:
    path = folder / MANIFEST
    if path.exists():
        old = json.loads(path.read_text())
        differ = [k for k in _PARAMS if old.get("params", {}).get(k) != params[k]]
        if differ:
            raise ValueError(
                f"{folder} holds a dataset made with other {', '.join(differ)}; use another folder or the same parameters"
            )
    data = {"version": FORMAT_VERSION, "n": n, "num_shards": -(-n // params["shard_size"]), "params": params}
    temp = path.with_name(f"{MANIFEST}.tmp-{os.getpid()}")
    temp.write_text(json.dumps(data, indent=2))
    os.replace(temp, path)


def write_dataset(
    out_dir: str | os.PathLike[str],
    n: int,
    *,
    seed: int = 0,
    width: int = 128,
    height: int = 128,
    fps: float = 24,
    seconds: float = 4.0,
    sample_rate: int = 16000,
    shard_size: int = 256,
    workers: int | None = None,
    mp4: bool = False,
    audio_dtype: str = "float16",
    max_objects: int = 3,
    allow_toys: bool = True,
    progress: Callable[[int], None] | None = None,
) -> DatasetReport:
    """Render `n` random Toybox clips into shards under `out_dir`, skipping shards already complete.

    Clip i is the same whatever the shard size or number of workers (its seed is `clip_seed(seed, i)`).
    `workers` processes render shards in parallel (default: all CPU cores; 1 renders in this process).
    `mp4` also writes `mp4/<index>.mp4` with its ground truth beside it. `progress` is called with
    the number of clips in every shard finished (or skipped).
    """
    # 1. Check the arguments, before anything is written.
    if n < 0:
        raise ValueError(f"n must be zero or more, got {n}")
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}")
    if audio_dtype not in ("float16", "float32"):
        raise ValueError(f"audio_dtype must be float16 or float32, got {audio_dtype!r}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")

    # 2. The folder and its manifest, which refuses a folder holding a dataset made with other parameters.
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    params = {
        "seed": int(seed), "width": int(width), "height": int(height), "fps": float(fps), "seconds": float(seconds),
        "sample_rate": int(sample_rate), "shard_size": int(shard_size), "audio_dtype": audio_dtype,
        "max_objects": int(max_objects), "allow_toys": bool(allow_toys),
    }  # fmt: skip
    check_params(width, height, fps, seconds, sample_rate)  # fail here, not inside a worker
    _manifest(folder, n, params)
    for stale in folder.glob("shard-*.npz.tmp-*"):  # left by an interrupted run
        stale.unlink(missing_ok=True)

    # 3. Skip the shards already complete (a shard file exists only once written whole), then write the rest.
    report = DatasetReport(folder, clips=n)
    todo = _skip_complete_shards(folder, n, shard_size, report, progress)
    _write_shards(folder, todo, n, params, mp4, workers, report, progress)
    return report


def _skip_complete_shards(
    folder: Path, n: int, shard_size: int, report: DatasetReport, progress: Callable[[int], None] | None
) -> list[int]:
    """The shards still to write; those already on disk go to `report.skipped` and count as progress."""
    todo = []
    for shard in range(-(-n // shard_size)):
        size = min(shard_size, n - shard * shard_size)
        if (folder / f"shard-{shard:05d}.npz").exists():
            report.skipped.append(shard)
            if progress:
                progress(size)
        else:
            todo.append(shard)
    return todo


def _write_shards(
    folder: Path,
    todo: list[int],
    n: int,
    params: dict[str, Any],
    mp4: bool,
    workers: int,
    report: DatasetReport,
    progress: Callable[[int], None] | None,
) -> None:
    """Write the shards `todo` in this process, or in parallel in worker processes; each one written goes
    to `report.written` (in shard order) and counts as progress when it is done."""
    if workers == 1 or len(todo) <= 1:
        for shard in todo:
            done = _write_shard(str(folder), shard, n, params, mp4)
            report.written.append(shard)
            if progress:
                progress(done)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_write_shard, str(folder), s, n, params, mp4): s for s in todo}
        for future in as_completed(futures):
            done = future.result()
            report.written.append(futures[future])
            if progress:
                progress(done)
    report.written.sort()


# --- reading ----------------------------------------------------------------------------------------


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a dataset folder (raises ValueError when the folder holds no dataset)."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise ValueError(
            f"{folder} is not a Toybox dataset (no {MANIFEST}); write one with `duetto world dataset`"
        )
    return json.loads(path.read_text())


def load_shard(
    path: str | os.PathLike[str], *, fps: float | None = None, sample_rate: int | None = None
) -> Iterator[DatasetItem]:
    """The clips of one shard, in order, decoded one at a time."""
    with zipfile.ZipFile(path) as zf:
        index = json.loads(zf.read("index.json"))
        for entry in index["clips"]:
            i = entry["index"]

            def part(name: str, i: int = i) -> np.ndarray:
                return np.lib.format.read_array(
                    io.BytesIO(zf.read(f"{i:08d}/{name}.npy")), allow_pickle=False
                )

            truth = entry["truth"]
            frames = decode_frames(part("key"), part("delta_counts"), part("delta_index"), part("delta_rgb"))
            yield DatasetItem(
                index=i,
                frames=frames,
                audio=part("audio").astype(np.float32),
                caption=entry["caption"],
                truth=truth,
                fps=fps if fps is not None else truth["fps"],
                sample_rate=sample_rate if sample_rate is not None else truth["sample_rate"],
            )


def shard_paths(folder: str | os.PathLike[str]) -> list[Path]:
    """The complete shards of a dataset folder, in order."""
    read_manifest(folder)
    return sorted(Path(folder).glob("shard-*.npz"))


def iter_dataset(
    folder: str | os.PathLike[str], *, shuffle_shards: bool = False, seed: int = 0
) -> Iterator[DatasetItem]:
    """Every clip of a dataset folder, shard by shard (in a seeded random shard order if asked)."""
    paths = shard_paths(folder)
    if shuffle_shards:
        paths = [paths[i] for i in np.random.default_rng(seed).permutation(len(paths))]
    for path in paths:
        yield from load_shard(path)
