"""No I/O: the API functions' declarations, the SQLSTATE table, the retry policy, the
hot-row registry and every SQL statement the client sends."""
