"""Tensors and models: the twin-tower transformer, its codecs, samplers and the generation pipeline."""
