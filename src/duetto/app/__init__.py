"""The studio server and social app."""
