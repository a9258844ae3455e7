"""Videos: the model catalog, request validation, and the service the `/v1/videos` routes call."""
