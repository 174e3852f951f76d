"""Gold: module-day features, quarterly training sets, the warehouse load, and the plots.

In: stored silver days (through `store`) and the `Catalog`. Out: feature files per (module, day),
the quarter's training table loaded transactionally into PostgreSQL or DuckDB, and PNG plots.
"""
