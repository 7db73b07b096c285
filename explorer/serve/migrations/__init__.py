"""Alembic migrations of the workspace database (``explorer.serve.store`` runs them when it opens a database)."""
