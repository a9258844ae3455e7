"""`duetto world …`: render Toybox clips and write datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from duetto.cli_support import fail
from duetto.clip import parse_size

world_app = typer.Typer(help="Render Toybox clips and datasets.", no_args_is_help=True)


@world_app.command("render")
def render_command(
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Where to write the MP4; the ground truth goes beside it as .json."
        ),
    ],
    prompt: Annotated[
        str | None, typer.Option(help="A caption to render; a random scene when left out.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the scene and the render.")] = 0,
    size: Annotated[str, typer.Option(help="Frame size WIDTHxHEIGHT.")] = "128x128",
    fps: Annotated[float, typer.Option(help="Frames per second.")] = 24.0,
    seconds: Annotated[float, typer.Option(help="Duration in seconds.")] = 4.0,
    sample_rate: Annotated[int, typer.Option(help="Audio sample rate in Hz.")] = 16000,
) -> None:
    """Render one clip (a prompt's scene or a random one) to an MP4 plus its ground-truth JSON."""
    from duetto.world.captions import parse_caption
    from duetto.world.render import render
    from duetto.world.sample import random_scene

    try:
        if output.suffix.lower() != ".mp4":
            raise ValueError(f"the output must be an .mp4 file, got {output.name}")
        width, height = parse_size(size)
        facts = parse_caption(prompt) if prompt is not None else random_scene(np.random.default_rng(seed))
        result = render(
            facts,
            width=width,
            height=height,
            fps=fps,
            seconds=seconds,
            sample_rate=sample_rate,
            seed=seed,
            caption=prompt,
        )
    except ValueError as err:
        raise fail(str(err)) from None
    from duetto.media import write_mp4

    output.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(result.clip, output)
    truth_path = output.with_suffix(".json")
    truth_path.write_text(json.dumps(result.truth, indent=1))
    typer.echo(
        f"{output}  ({result.clip.num_frames} frames, {len(result.truth['events'])} events)  {result.truth['caption']}"
    )


@world_app.command("dataset")
def dataset_command(
    out: Annotated[Path, typer.Argument(help="Folder for the shards (created if missing; reruns resume).")],
    n: Annotated[int, typer.Option("--n", help="Number of clips.")],
    workers: Annotated[
        int | None, typer.Option(help="Processes to render with (default: all cores).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Dataset seed.")] = 0,
    size: Annotated[str, typer.Option(help="Frame size WIDTHxHEIGHT.")] = "128x128",
    fps: Annotated[float, typer.Option(help="Frames per second.")] = 24.0,
    seconds: Annotated[float, typer.Option(help="Duration of each clip in seconds.")] = 4.0,
    sample_rate: Annotated[int, typer.Option(help="Audio sample rate in Hz.")] = 16000,
    shard_size: Annotated[int, typer.Option(help="Clips per shard.")] = 256,
    mp4: Annotated[
        bool, typer.Option("--mp4", help="Also write every clip as an MP4 with its truth JSON.")
    ] = False,
) -> None:
    """Write N random clips with captions and ground truth as resumable shards."""
    from rich.progress import Progress

    from duetto.world.dataset import write_dataset

    try:
        width, height = parse_size(size)
        with Progress(transient=True) as bar:
            task = bar.add_task("rendering", total=n)
            report = write_dataset(
                out, n, seed=seed, width=width, height=height, fps=fps, seconds=seconds, sample_rate=sample_rate,
                shard_size=shard_size, workers=workers, mp4=mp4, progress=lambda k: bar.advance(task, k),
            )  # fmt: skip
    except ValueError as err:
        raise fail(str(err)) from None
    typer.echo(
        f"{out}: {n} clips, {len(report.written)} shards written, {len(report.skipped)} already complete"
    )
