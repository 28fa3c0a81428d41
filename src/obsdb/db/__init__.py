"""The database side: connection, embedded server, migrations and SQL."""
