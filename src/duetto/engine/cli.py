"""`duetto generate` and `duetto convert …`: the engine's command-line face."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from duetto.cli_support import fail

convert_app = typer.Typer(help="Import official checkpoints into Duetto's model-folder layout.", no_args_is_help=True)

DEFAULT_MODEL_NAME = "toybox-v2"


def default_model_dir() -> Path:
    """$DUETTO_MODEL, else the shipped default model beside the source tree (models/toybox-v2)."""
    if os.environ.get("DUETTO_MODEL"):
        return Path(os.environ["DUETTO_MODEL"])
    return Path(__file__).resolve().parents[3] / "models" / DEFAULT_MODEL_NAME




def check_writable(path: Path) -> None:
    parent = path.resolve().parent
    if not parent.is_dir():
        raise fail(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise fail(f"cannot write {path}: permission denied; choose another -o path")


def _read_clip(path: Path, what: str):
    from duetto.media import read_mp4, read_wav

    if not path.is_file():
        raise fail(f"{what} file {path} does not exist")
    try:
        if path.suffix.lower() == ".wav":
            import numpy as np

            from duetto.clip import Clip

            audio, rate = read_wav(path)
            # A sound-only input: the pipeline reads only the waveform of an `audio=` clip.
            return Clip(frames=np.zeros((1, 2, 2, 3), np.uint8), audio=audio, fps=1.0, sample_rate=rate)
        return read_mp4(path)
    except ValueError as err:
        raise fail(str(err)) from err


def _read_inputs(
    image: Path | None, video: Path | None, audio: Path | None, remix: Path | None, extend: Path | None
) -> dict:
    """The pipeline's keyword arguments for the given inputs: the image's path (the pipeline reads it), the
    other files read as clips."""
    inputs = {}
    if image is not None:
        if not image.is_file():
            raise fail(f"image file {image} does not exist")
        inputs["image"] = image
    for key, path in (("video", video), ("audio", audio), ("remix_of", remix), ("extend", extend)):
        if path is not None:
            inputs[key] = _read_clip(path, key)
    return inputs


def _check_before_loading(model_dir: Path, prompt: str, size: str | None, seconds: float | None,
                          steps: int | None, strength: float) -> None:
    """What can be refused from the arguments, `model_index.json` and the tokenizer file alone, so that a bad
    input is told in a moment rather than after torch and the weights load. Errors name the model by its
    folder name, the name users type; the pipeline checks everything again once loaded."""
    import json
    import math

    from duetto.clip import parse_size

    name = model_dir.resolve().name
    if not prompt.strip():
        raise fail("the prompt is empty; describe the video and its sound")
    if steps is not None and not 1 <= steps <= 1000:
        raise fail(f"--steps must be between 1 and 1000, got {steps}")
    if not 0.0 < strength <= 1.0:
        raise fail(f"--strength must be in (0, 1], got {strength:g}")
    try:
        generation = json.loads((model_dir / "model_index.json").read_text()).get("generation", {})
    except (OSError, ValueError, AttributeError):
        return  # a missing or damaged folder: loading it says what is wrong
    if size is not None:
        try:
            width, height = parse_size(size)
        except ValueError as err:
            raise fail(str(err)) from err
        sizes = list(generation.get("sizes", []))
        if sizes and size not in sizes and f"{width}x{height}" not in sizes:
            raise fail(f"size {size} is not supported by {name}; choose one of: {', '.join(sizes)}")
    low = generation.get("min_seconds")
    if seconds is not None and low is not None and (math.isnan(seconds) or seconds < float(low)):
        raise fail(f"seconds must be between {float(low):g} and {float(generation['max_seconds']):g} for {name}, "
                   f"got {seconds:g}")
    tokenizer_file = model_dir / "tokenizer" / "tokenizer.json"
    if tokenizer_file.is_file():
        from tokenizers import Tokenizer

        limit = int(generation.get("text_max_length", 512))
        count = len(Tokenizer.from_file(str(tokenizer_file)).encode(prompt, add_special_tokens=True).ids)
        if count > limit:
            raise fail(f"the prompt is {count} tokens long; {name}'s text encoder accepts at most {limit} — shorten it")


def generate(
    prompt: Annotated[str, typer.Argument(help="What to make; the sound after 'Audio:', speech in <S>…<E>.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the MP4.")] = Path("out.mp4"),
    model: Annotated[Path | None, typer.Option(help="Model folder (default: the shipped toybox-v2).")] = None,
    image: Annotated[Path | None, typer.Option(help="First frame (image→video+audio).")] = None,
    video: Annotated[Path | None, typer.Option(help="A silent video to make sound for (video→audio).")] = None,
    audio: Annotated[Path | None, typer.Option(help="A sound (WAV/MP4) to make a picture for (audio→video).")] = None,
    remix: Annotated[Path | None, typer.Option(help="An MP4 to remix with the new prompt.")] = None,
    strength: Annotated[float, typer.Option(help="Remix strength: 0 keeps the clip, 1 is all new.")] = 0.6,
    extend: Annotated[Path | None, typer.Option(help="An MP4 to continue by --seconds.")] = None,
    seconds: Annotated[float | None, typer.Option(help="Duration in seconds.")] = None,
    size: Annotated[str | None, typer.Option(help="WIDTHxHEIGHT, one the model supports.")] = None,
    steps: Annotated[int | None, typer.Option(help="Denoising steps.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed; the same seed gives the same clip.")] = None,
    solver: Annotated[str | None, typer.Option(help="unipc (default) or euler.")] = None,
    memory: Annotated[str | None, typer.Option(help="Memory profile: full, bf16, offload, fp8.")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:1, …")] = "cpu",
    wav: Annotated[Path | None, typer.Option(help="Also write the sound as WAV here.")] = None,
    timings: Annotated[Path | None, typer.Option(hidden=True, help="Write wall-clock marks as JSON here.")] = None,
) -> None:
    """Generate a video with its synchronized sound from a prompt."""
    import time

    marks = {"command": time.time()}  # epoch seconds, so a parent process can set them against its own clock
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    # 1. Check everything that can fail before the model loads, which takes seconds: the model folder, the
    #    outputs, the input files.
    model_dir = model or default_model_dir()
    if model is None and not (model_dir / "model_index.json").is_file():
        raise fail(f"no default model is installed ({DEFAULT_MODEL_NAME} not found at {model_dir}); "
                   "name a model folder with --model DIR")
    _check_before_loading(model_dir, prompt, size, seconds, steps, strength)
    check_writable(output)
    if wav is not None:
        check_writable(wav)
    inputs = _read_inputs(image, video, audio, remix, extend)

    # 2. Load the model, generate under a progress bar (drawn only on a terminal), write the files; a
    #    ValueError from any of them (a bad input) becomes a one-line error.
    from duetto.engine.pipeline import Pipeline
    from duetto.media import write_mp4, write_wav

    marks["imported"] = time.time()
    try:
        pipe = Pipeline.from_pretrained(model_dir, device=device, memory_profile=memory)
        pipe.name = model_dir.resolve().name  # its errors name the folder, as --model does, not the index's name
        marks["loaded"] = time.time()
        with Progress(TextColumn("[bold]denoising"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), transient=True, disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task("denoise", total=None)

            def progress(step: int, total: int) -> None:
                bar.update(task, completed=step, total=total)

            clip = pipe(prompt, seconds=seconds, size=size, steps=steps, seed=seed, solver=solver,
                        strength=strength, callback=progress, **inputs)
        marks["generated"] = time.time()
        write_mp4(clip, output)
        marks["written"] = time.time()
        if wav is not None:
            write_wav(clip, wav, clip.sample_rate)
    except ValueError as err:
        raise fail(str(err).splitlines()[0]) from err

    # 3. The timings, for a benchmark that asked for them, and one line for the user.
    stages = clip.metadata.get("timings", {})
    if timings is not None:
        import json

        timings.write_text(json.dumps({"marks": marks, "stages": stages}))
    total = sum(stages.values())
    typer.echo(f"wrote {output} ({clip.num_frames} frames at {clip.fps:g} fps, {clip.audio_seconds:.2f} s of sound, "
               f"seed {clip.metadata['seed']}, {total:.1f} s)")


@convert_app.command("ovi")
def convert_ovi_command(
    source_dir: Annotated[Path, typer.Argument(metavar="SOURCE_DIR",
                                               help="Ovi's ckpts/ folder (with Ovi/, Wan2.2-TI2V-5B/, MMAudio/).")],
    out_dir: Annotated[Path, typer.Argument(metavar="OUT_DIR", help="The Duetto model folder to create.")],
    variant: Annotated[str, typer.Option(help="960x960_10s, 960x960_5s or 720x720_5s.")] = "960x960_10s",
    dtype: Annotated[str, typer.Option(help="bf16 or fp32, for the transformer and the text encoder.")] = "bf16",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT_DIR if it exists.")] = False,
) -> None:
    """Import the official Ovi checkpoints (with their Wan2.2 and MMAudio files) as a Duetto model folder."""
    from duetto.engine.convert.ovi import convert_ovi

    try:
        path = convert_ovi(source_dir, out_dir, variant=variant, dtype=dtype, overwrite=overwrite,
                           progress=lambda name: typer.echo(f"converting {name}…", err=True))
    except ValueError as err:
        raise fail(str(err).splitlines()[0]) from err
    typer.echo(f"wrote {path} (load it with --model {path})")
