"""The durable render queue: SQLite jobs, leased workers, resident models between jobs."""
