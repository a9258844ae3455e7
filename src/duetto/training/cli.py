"""`duetto train …`: run the training stages of a preset, resume them, and assemble the model folder."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from duetto.cli_support import fail

train_app = typer.Typer(
    help="Train the Toybox model: video VAE, audio VAE + vocoder, twin transformer; then assemble it.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="A preset, e.g. configs/train/toybox-v1.yaml.")
]
OutOption = Annotated[Path | None, typer.Option("--out", help="Run folder (default: runs/<preset name>).")]
ResumeOption = Annotated[bool, typer.Option("--resume", help="Continue from the stage's checkpoint.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config value, e.g. --set twin.steps=100 (repeatable)."),
]




def _setup(config: Path, out: Path | None, overrides: list[str] | None):
    """Logging (INFO on rank 0 only), the validated config, and the run folder with the resolved config in it."""
    from rich.logging import RichHandler

    from duetto.training.config import dump_config, load_config

    main = int(os.environ.get("RANK", "0")) == 0
    logging.basicConfig(
        level=logging.INFO if main else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(show_path=False)],
        force=True,
    )
    try:
        cfg = load_config(config, overrides)
    except ValueError as err:
        raise fail(str(err)) from err
    run_dir = out or Path("runs") / cfg.name
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(dump_config(cfg))
    return cfg, run_dir


def _run(stage, cfg, run_dir: Path, resume: bool) -> None:
    try:
        stage(cfg, run_dir, resume=resume)
    except ValueError as err:
        raise fail(str(err)) from err


@train_app.command("video-vae")
def video_vae(
    config: ConfigOption, out: OutOption = None, resume: ResumeOption = False, set_: SetOption = None
) -> None:
    """Stage 1: the video VAE."""
    from duetto.training.video_vae import train_video_vae

    cfg, run_dir = _setup(config, out, set_)
    _run(train_video_vae, cfg, run_dir, resume)


@train_app.command("video-codec")
def video_codec(
    config: ConfigOption, out: OutOption = None, resume: ResumeOption = False, set_: SetOption = None
) -> None:
    """Stage 1 of presets with a video_codec section: the frame-group autoencoder."""
    from duetto.training.video_codec import train_video_codec

    cfg, run_dir = _setup(config, out, set_)
    _run(train_video_codec, cfg, run_dir, resume)


@train_app.command("mel-codec")
def mel_codec(
    config: ConfigOption, out: OutOption = None, resume: ResumeOption = False, set_: SetOption = None
) -> None:
    """Stage 2 of presets with a mel_codec section: the mel statistics and the Griffin-Lim vocoder."""
    from duetto.training.mel_codec import train_mel_codec

    cfg, run_dir = _setup(config, out, set_)
    _run(train_mel_codec, cfg, run_dir, resume)


@train_app.command("codecs")
def codecs_command(
    config: ConfigOption,
    out: OutOption = None,
    codecs_out: Annotated[Path | None, typer.Option("--codecs-out", help="Folder (default: <out>/codecs).")] = None,
    set_: SetOption = None,
) -> None:
    """Write a codec-only model folder from a run's finished codecs, for `duetto bench toybox --through-codecs`."""
    from duetto.training.assemble import assemble_codecs

    cfg, run_dir = _setup(config, out, set_)
    try:
        typer.echo(str(assemble_codecs(cfg, run_dir, codecs_out)))
    except ValueError as err:
        raise fail(str(err)) from err


@train_app.command("audio")
def audio(
    config: ConfigOption, out: OutOption = None, resume: ResumeOption = False, set_: SetOption = None
) -> None:
    """Stage 2: the audio VAE and the vocoder."""
    from duetto.training.audio_codec import train_audio

    cfg, run_dir = _setup(config, out, set_)
    _run(train_audio, cfg, run_dir, resume)


@train_app.command("vocoder")
def vocoder(
    config: ConfigOption,
    out: OutOption = None,
    steps: Annotated[int, typer.Option(help="Further steps for the finished vocoder.")] = 200,
    lr: Annotated[
        float,
        typer.Option(help="Peak learning rate (warmup, then cosine to audio.min_lr_ratio of it, 0.1 by default)."),
    ] = 1e-3,
    set_: SetOption = None,
) -> None:
    """Go on training a finished run's vocoder alone (the audio VAE and anything cached from it stay)."""
    from duetto.training.audio_codec import finetune_vocoder

    cfg, run_dir = _setup(config, out, set_)
    try:
        finetune_vocoder(cfg, run_dir, steps=steps, lr=lr)
    except ValueError as err:
        raise fail(str(err)) from err


InitFromOption = Annotated[Path | None, typer.Option(
    "--init-from", help="Continue this model folder's training (its codecs, weights and tokenizer).")]
CodecsOption = Annotated[Path | None, typer.Option(
    "--codecs", help="Take the codecs from this model or codec-only folder instead of the run's own.")]


@train_app.command("twin")
def twin(
    config: ConfigOption, out: OutOption = None, resume: ResumeOption = False, set_: SetOption = None,
    init_from: InitFromOption = None, codecs: CodecsOption = None,
) -> None:
    """Stage 3: the twin transformer and its text encoder (needs stages 1 and 2 in the same --out, or --codecs)."""
    from duetto.training.twin import train_twin

    cfg, run_dir = _setup(config, out, set_)
    try:
        train_twin(cfg, run_dir, resume=resume, init_from=init_from, codecs_dir=codecs)
    except ValueError as err:
        raise fail(str(err)) from err


@train_app.command("cache")
def cache_command(
    config: ConfigOption, out: OutOption = None, set_: SetOption = None,
    init_from: InitFromOption = None, codecs: CodecsOption = None,
) -> None:
    """Encode the transformer's latent cache only (so runs side by side can share it); under torchrun each
    process encodes its share."""
    from duetto.training.ddp import init_distributed
    from duetto.training.twin import encode_clips

    cfg, run_dir = _setup(config, out, set_)
    try:
        cache = encode_clips(cfg, run_dir, init_distributed(cfg.device), init_from or codecs)
    except ValueError as err:
        raise fail(str(err)) from err
    typer.echo(f"{len(cache)} clips cached")


@train_app.command("assemble")
def assemble_command(
    config: ConfigOption,
    out: OutOption = None,
    model_out: Annotated[
        Path | None, typer.Option("--model-out", help="Model folder (default: <out>/model).")
    ] = None,
    set_: SetOption = None,
    codecs: CodecsOption = None,
) -> None:
    """Write the model folder (fp16 safetensors, diffusers layout) from a finished run."""
    from duetto.training.assemble import assemble

    cfg, run_dir = _setup(config, out, set_)
    if int(os.environ.get("RANK", "0")) != 0:
        return
    try:
        path = assemble(cfg, run_dir, model_out or run_dir / "model", codecs_dir=codecs)
    except ValueError as err:
        raise fail(str(err)) from err
    typer.echo(str(path))


@train_app.command("all")
def all_stages(
    config: ConfigOption,
    out: OutOption = None,
    model_out: Annotated[
        Path | None, typer.Option("--model-out", help="Model folder (default: <out>/model).")
    ] = None,
    resume: ResumeOption = False,
    set_: SetOption = None,
) -> None:
    """All three stages in order, then the model folder. With --resume, finished stages are skipped."""
    from duetto.training.assemble import assemble
    from duetto.training.audio_codec import train_audio
    from duetto.training.mel_codec import train_mel_codec
    from duetto.training.twin import train_twin
    from duetto.training.video_codec import train_video_codec
    from duetto.training.video_vae import train_video_vae

    cfg, run_dir = _setup(config, out, set_)
    video = ("video_codec", train_video_codec) if cfg.video_codec else ("video_vae", train_video_vae)
    sound = ("mel_codec", train_mel_codec) if cfg.mel_codec else ("audio", train_audio)
    for name, stage in (video, sound, ("twin", train_twin)):
        finished = (run_dir / name / "final").is_dir()
        if resume and finished:
            logging.getLogger("duetto.training").info("%s already finished; skipping", name)
            continue
        _run(stage, cfg, run_dir, resume)
    if int(os.environ.get("RANK", "0")) == 0:
        try:
            typer.echo(str(assemble(cfg, run_dir, model_out or run_dir / "model")))
        except ValueError as err:
            raise fail(str(err)) from err


@train_app.command("record-run")
def record_run_command(
    model: Annotated[Path, typer.Option(help="The model folder the run wrote (with its training/ state).")],
    report: Annotated[Path, typer.Option(help="The run's `duetto bench toybox` report.json.")],
    card: Annotated[Path, typer.Option(help="The model card whose learning-curve table to rewrite.")],
    cpu_hours: Annotated[float, typer.Option(help="CPU time the run took, in core-hours.")],
    note: Annotated[str, typer.Option(help="A word on the run, shown beside its number.")] = "",
) -> None:
    """Add a finished run's row (samples seen, CPU time, every measure) to the model's learning curve."""
    from duetto.training.curve import record, table

    try:
        runs = record(model, report, card, cpu_hours=cpu_hours, note=note)
    except (ValueError, OSError, KeyError) as err:
        raise fail(f"cannot record the run: {err}") from err
    typer.echo(table(runs))


@train_app.command("sizes")
def sizes(config: ConfigOption, set_: SetOption = None) -> None:
    """Parameter counts and fp16 sizes of a preset's components (built at random, nothing trained)."""
    from rich.console import Console
    from rich.table import Table

    from duetto.training.config import load_config
    from duetto.training.sizes import component_sizes

    try:
        cfg = load_config(config, set_)
    except ValueError as err:
        raise fail(str(err)) from err
    table = Table("component", "parameters", "fp16 MB", title=f"{cfg.name}")
    rows = component_sizes(cfg)
    for name, count in rows.items():
        table.add_row(name, f"{count:,}", f"{count * 2 / 1e6:.1f}")
    total = sum(rows.values())
    table.add_row("total", f"{total:,}", f"{total * 2 / 1e6:.1f}")
    Console().print(table)


if __name__ == "__main__":  # `python -m duetto.training.cli …` (what torchrun starts)
    train_app()
