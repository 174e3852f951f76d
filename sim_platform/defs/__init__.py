"""The Dagster layer, one package per layer (landing, bronze, silver, gold) plus what they share;
`sim_platform.definitions` puts it together. Library code lives in `sim_platform.core`."""
