"""ltxmlx: a config-driven batch renderer for LTX-2 / LTX-2.3 on MLX."""

__version__ = "0.1.0"
