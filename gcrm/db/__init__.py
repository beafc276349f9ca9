"""Database layer: ORM models, engine factory and Alembic migrations."""
