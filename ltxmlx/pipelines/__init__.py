"""Pipelines: stage blocks composed into one-stage, two-stage and distilled renders."""
