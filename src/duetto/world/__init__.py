"""Toybox: a synthetic audiovisual world where every sound has a visible cause."""
