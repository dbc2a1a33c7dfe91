"""Headwater's store: profiles, per-source incremental state and run records, in one SQL database.

SQLite (embedded default) or PostgreSQL (by configuration). This package deliberately imports
nothing so DAG parsing never pays for SQLAlchemy; import `headwater.store.db`, `.state`, `.runs`
or `.profiles` inside task code.
"""
