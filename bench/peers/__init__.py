"""Reference implementations of the ETL's work in other engines (bench/etl_bench.py runs them)."""
