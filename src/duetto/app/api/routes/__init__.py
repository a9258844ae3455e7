"""One router per domain: videos, models, characters and provenance."""
