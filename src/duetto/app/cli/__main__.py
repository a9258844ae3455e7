"""`python -m duetto.app.cli`: the studio's commands alone (what `duetto worker --gpus` starts per GPU)."""

from duetto.app.cli import studio_app

studio_app()()
