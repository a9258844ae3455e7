"""Settings, database sessions, parsing, key hashing and the errors every layer shares; it imports nothing else
of the app."""
