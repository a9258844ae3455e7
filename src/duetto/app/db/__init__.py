"""Every table of the studio (`models.py`, one section per domain) and their Alembic migrations: the database is
the record of every job."""
