"""Settings, database sessions, key hashing and the errors every layer shares."""
