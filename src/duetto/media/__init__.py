"""Clips to files and back: MP4 (H.264 + AAC), WAV, thumbnails, spritesheets."""
