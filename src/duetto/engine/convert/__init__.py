"""Importers for official checkpoints; key maps are data."""
