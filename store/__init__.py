"""The order store: order lines, ingest batches and published forecasts in one relational
database (SQLite by default, PostgreSQL for a team), through SQLAlchemy 2 and Alembic.

``store.database`` opens it (migrating to the latest schema), ``store.ingest`` takes order
lines in, ``store.orders`` hands them out as the canonical frame, and ``store.publications``
keeps every published forecast. Imports ``forecasting``; ``training``, ``api`` and
``ordercast`` may import it, ``forecasting`` never does.
"""
