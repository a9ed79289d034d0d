"""Numeric parity with the official implementation, on its own fixture format (see `fixtures`)."""
