"""Silver: a day of rows to validated 5-second hour tables and the day's quality report.

In: a day's `RawBatch` (from `ingest`, or read back from `bronze`). Out: one `HierarchyDay` per
hierarchy on the exact 5-second grid (dedupe, bins, the fill rule), validated against the
structural hour-file schema (what blocks a day), and the day's data-quality report (what never
blocks a day). Where the files go is `store`'s business.
"""
