"""MLX modules of the LTX-2 model family (no file I/O, no evaluation)."""
