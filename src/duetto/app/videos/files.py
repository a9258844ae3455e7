"""Where a video's files live in storage: its assets under `videos/<id>/`, what its request brought under
`inputs/<id>/`, and the one way to remove both."""

from __future__ import annotations

from duetto.app.infra.storage import Storage

VARIANTS = {
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.webp", "image/webp"),
    "spritesheet": ("spritesheet.jpg", "image/jpeg"),
}


def asset_key(video_id: str, variant: str) -> str:
    return f"videos/{video_id}/{VARIANTS[variant][0]}"


def input_file_key(video_id: str, name: str) -> str:
    """The key of a file the request brought (a reference image, a source MP4)."""
    return f"inputs/{video_id}/{name}"


def purge_files(storage: Storage, video_id: str) -> None:
    """Remove every file of a video: its assets and its inputs."""
    storage.delete_prefix(f"videos/{video_id}")
    storage.delete_prefix(f"inputs/{video_id}")
