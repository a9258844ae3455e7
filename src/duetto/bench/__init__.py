"""Scores any generated clip against the facts of its prompt (Toybox benchmark)."""
