"""Run configuration: typed schema, job files, validation and the render plan."""
