"""The Dagster layer: a thin shell of assets, resources and sensors over `sim_platform.core`/`storage`."""
