"""Alembic migrations for the studio's tables; they run on SQLite and PostgreSQL alike."""
