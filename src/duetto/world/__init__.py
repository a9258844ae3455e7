"""Toybox: a synthetic audiovisual world where every sound has a visible cause."""

from duetto.world.captions import CaptionError, caption, parse_caption
from duetto.world.cards import CharacterCard, character_card
from duetto.world.dataset import DatasetItem, iter_dataset, load_shard, write_dataset
from duetto.world.facts import ObjectFacts, SceneFacts, ToyFacts
from duetto.world.render import RenderResult, render
from duetto.world.sample import random_scene
from duetto.world.scene import Scene, realize

__all__ = [
    "CaptionError",
    "CharacterCard",
    "DatasetItem",
    "ObjectFacts",
    "RenderResult",
    "Scene",
    "SceneFacts",
    "ToyFacts",
    "caption",
    "character_card",
    "iter_dataset",
    "load_shard",
    "parse_caption",
    "random_scene",
    "realize",
    "render",
    "write_dataset",
]
