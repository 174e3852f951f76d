"""Bronze: one day's distinct raw rows as one parquet file, one row group per hierarchy.

In: a day's `RawBatch` from `ingest`. Out: `bronze/YYYY/MM/DD.parquet` with the day's flagged-sample
summary in its metadata; read back one hierarchy at a time by `silver`.
"""
