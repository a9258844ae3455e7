"""The queue interface the API uses to hand jobs to workers, whichever kind of worker runs them."""

from __future__ import annotations

from typing import Protocol


class JobQueue(Protocol):
    def start(self) -> None:
        """Begin accepting jobs (and, for the in-process queue, pick up jobs left queued in the database)."""

    def enqueue(self, video_id: str) -> None: ...

    def stop(self) -> None: ...
