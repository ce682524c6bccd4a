"""Database: SQLAlchemy 2 models and sessions. SQLite (WAL) in the data directory by
default; any SQLAlchemy URL (PostgreSQL) through REELFORGE_DATABASE_URL."""
