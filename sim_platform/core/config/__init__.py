"""Configuration: what a run is told, loaded and validated once where the run starts.

In: `pipelines.yaml` (the packaged one, `--config`, or `SIM_PLATFORM_PIPELINES`). Out: one
`Pipelines` object (sources, the signal catalog, destinations, partitions) that every later step
receives as an object, never as a path. Nothing here reads data.
"""
