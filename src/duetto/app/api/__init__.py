"""The HTTP face of the studio: OpenAI-compatible `/v1/videos` routes, thin over the services."""
