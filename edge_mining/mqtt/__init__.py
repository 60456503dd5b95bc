"""mqtt room."""
