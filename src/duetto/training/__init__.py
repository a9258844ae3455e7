"""Trainers that turn Toybox data into a model folder."""
