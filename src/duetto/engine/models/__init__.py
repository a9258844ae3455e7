"""Model classes, one model family per file (diffusers ModelMixin + ConfigMixin)."""
