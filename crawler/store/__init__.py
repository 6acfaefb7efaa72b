"""The database: the schema, opening a database, migrations and acknowledgements."""
