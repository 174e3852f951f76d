"""Bronze: one asset, a day of deduplicated raw rows per partition."""
