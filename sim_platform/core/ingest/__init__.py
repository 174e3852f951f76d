"""Ingest: input files to the canonical long form.

In: folders and landed blob prefixes of the configured sources (telemetry parquet, HDF5 runs, CSV,
JSON) and a `Pipelines`. Out: an `InputPlan` (files per UTC day, refused files with their reasons),
each day's rows as a `RawBatch` (read, screened per file, deduplicated), and the manifests that let
a rerun skip unchanged days.
"""
