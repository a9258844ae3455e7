"""Tables (SQLAlchemy 2) and their Alembic migrations: the database is the record of every job."""
