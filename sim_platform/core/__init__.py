"""The core: everything the platform computes, with no Dagster import, grouped by the path the data
takes: `config` -> `ingest` -> `bronze` -> `silver` -> `store`, then `gold` over what `store` wrote;
`exec` (processes, the day scheduler) and `synth` (the generator) serve them. `etl` and `demo` are
the drivers the CLI runs; the Dagster layer (`sim_platform.defs`) calls the same functions."""
