"""Alembic migrations of the workspace database (``explorer.store`` runs them when it opens a database)."""
