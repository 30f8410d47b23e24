"""The development kit: the embedded server, PgBouncer, the CLI, the demo, test helpers.
Its dependencies come with the `dev` extra (`pip install -e '.[dev]'`)."""
