"""`duetto bench …`: score models on the Toybox benchmark."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from duetto.cli_support import fail

bench_app = typer.Typer(help="Score models on the Toybox benchmark.", no_args_is_help=True)




def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match or int(match.group(1)) < 8 or int(match.group(2)) < 8:
        raise fail(f"--size must look like WIDTHxHEIGHT with sides of at least 8, e.g. 128x128, got {text!r}")
    return int(match.group(1)), int(match.group(2))


@bench_app.command("toybox")
def toybox_command(
    model: Annotated[Path | None, typer.Option(help="Model folder to benchmark (default: the shipped model).")] = None,
    n: Annotated[int, typer.Option("--n", help="How many held-out prompts.")] = 64,
    seed: Annotated[int, typer.Option(help="Which held-out prompts (run seed).")] = 0,
    out: Annotated[Path, typer.Option(help="Folder for the MP4s, report.json, report.md and plots.")] = Path("bench-out"),
    reference: Annotated[bool, typer.Option("--reference", help="Score ground-truth renders instead of a model.")] = False,
    through_codecs: Annotated[Path | None, typer.Option(
        "--through-codecs", help="Score renders passed through this model folder's codecs alone (the codec gate).",
    )] = None,
    size: Annotated[str, typer.Option(help="WIDTHxHEIGHT of the generated clips.")] = "128x128",
    seconds: Annotated[float, typer.Option(help="Clip duration in seconds.")] = 4.0,
    device: Annotated[str, typer.Option(help="Device for the model: cpu, cuda, …")] = "cpu",
) -> None:
    """Generate clips for held-out Toybox prompts, score every MP4 and write a report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from duetto.bench.runner import codec_generator, model_generator, reference_generator, run_benchmark

    width_height = _size(size)
    if n < 1:
        raise fail(f"--n must be at least 1, got {n}")
    if seed < 0:
        raise fail(f"--seed must be zero or positive, got {seed}")
    if not 0.5 <= seconds <= 60:
        raise fail(f"--seconds must be between 0.5 and 60, got {seconds}")
    try:
        if sum(x is not None and x is not False for x in (model, reference, through_codecs)) > 1:
            raise ValueError("give one of --model, --reference and --through-codecs")
        if reference:
            generate, name = reference_generator(size=width_height, seconds=seconds), "toybox reference renders"
        elif through_codecs is not None:
            generate = codec_generator(through_codecs, size=width_height, seconds=seconds, device=device)
            name = f"renders through the codecs of {through_codecs.name}"
        else:
            if model is None:
                from duetto.engine.cli import default_model_dir

                model = default_model_dir()
            generate, name = model_generator(model, size=width_height, seconds=seconds, device=device), model.name
        with Progress(TextColumn("[bold]toybox[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      transient=True) as bar:
            task = bar.add_task("clips", total=n)
            report = run_benchmark(generate, n=n, seed=seed, out_dir=out, model_name=name,
                                   progress=lambda done, total: bar.update(task, completed=done))
    except ValueError as error:
        raise fail(str(error)) from None
    typer.echo(report.markdown())
    typer.echo(f"wrote {out / 'report.md'}, {out / 'report.json'} and plots")


@bench_app.command("score")
def score_command(
    video: Annotated[Path, typer.Argument(help="An MP4 to score.")],
    prompt: Annotated[str, typer.Option(help="The Toybox prompt it was made from.")],
) -> None:
    """Score one MP4 against the facts of its prompt; prints the measures as JSON."""
    from duetto.bench.evaluate import evaluate
    from duetto.world.captions import parse_caption

    try:
        facts = parse_caption(prompt)
        result = evaluate(video, facts)
    except ValueError as error:
        raise fail(str(error)) from None
    typer.echo(json.dumps(result.summary(), indent=2))
