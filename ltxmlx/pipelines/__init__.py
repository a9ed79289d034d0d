"""Pipelines: stage blocks composed into one-stage, two-stage and distilled renders.

`factory.make_pipeline(cfg)` returns the stages a runner drives (`api` holds the contract);
`ltxmlx.runner.render.render(cfg, items)` drives them in memory and returns frames and waveforms.
"""
