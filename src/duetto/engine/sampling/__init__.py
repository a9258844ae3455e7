"""Flow-matching sigma schedules, solvers (UniPC, Euler) and per-modality guidance."""
