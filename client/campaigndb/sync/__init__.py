"""The sync client's I/O: pool, transaction, client."""
