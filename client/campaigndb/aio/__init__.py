"""The asyncio client's I/O: pool, transaction, client."""
