"""Videos: the model catalog, a job's steps (checked, shaped, recorded), its files, the prompt format, and what a
job asks the engine for. It knows nothing of characters; `flows.videos` adds them."""
