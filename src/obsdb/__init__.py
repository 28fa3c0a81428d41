"""obsdb: load the Observer's KRX market-data archives into a PostgreSQL warehouse you can trust.

The library works without the CLI: see :mod:`obsdb.api` for the functions behind each command.
"""

__version__ = "0.1.0"
