"""The batch renderer: stage-major execution, stage cache, outputs tree, records and progress."""
