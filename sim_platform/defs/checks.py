"""Asset checks of `resampled_5s`, evaluated per partition of the run.

- `cadence_and_schema` (BLOCKING, error): the pandera hour-file schema of `core.validate` (5-second
  grid, 720 rows per hour, the catalog's columns, types and bounds) on exactly the table that was
  written. Blocking: when it fails, downstream assets (the plot) are not materialised in that run.
- `completeness` (warning): the share of 5-second bins with a real sample, averaged over columns,
  must reach `min_completeness`; below it the check warns but does not block.

The checks are declared on the asset (check_specs) rather than as separate check ops: the
numbers are produced by the same worker that wrote the partition, so a run covering many partitions
does not read everything back again. Per-partition verdicts are in the check metadata.
"""

from __future__ import annotations

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, Config, MetadataValue

from sim_platform.defs.silver_batch import PartitionSummary

CADENCE_CHECK = "cadence_and_schema"
COMPLETENESS_CHECK = "completeness"


class SilverCheckConfig(Config):
    min_completeness: float = 0.5


def silver_check_specs(asset_key: str | list[str]) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(CADENCE_CHECK, asset=asset_key, blocking=True,
                       description="pandera: 5-second grid, 720 rows per hour, catalog columns, types and bounds"),
        AssetCheckSpec(COMPLETENESS_CHECK, asset=asset_key,
                       description="share of 5-second bins with a real sample (warns below the threshold)"),
    ]


def silver_check_results(results: dict[tuple[str, str], PartitionSummary], min_completeness: float) -> list[AssetCheckResult]:
    bad = {f"{d}|{pm}": s.schema_error for (d, pm), s in sorted(results.items()) if s.schema_error}
    low = {f"{d}|{pm}": s.completeness for (d, pm), s in sorted(results.items()) if s.completeness < min_completeness}
    return [
        AssetCheckResult(
            check_name=CADENCE_CHECK,
            passed=not bad,
            severity=AssetCheckSeverity.ERROR,
            metadata={"partitions_checked": len(results), "failing_count": len(bad), "failing": MetadataValue.json(_first(bad))},
            description=(f"{len(bad)} partition(s) break the hour-file schema; first: " + next(iter(bad.items()))[0] + ": " + next(iter(bad.values()))) if bad else None,
        ),
        AssetCheckResult(
            check_name=COMPLETENESS_CHECK,
            passed=not low,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "threshold": min_completeness,
                "min": min((s.completeness for s in results.values()), default=0.0),
                "below_threshold_count": len(low),
                "below_threshold": MetadataValue.json(_first(low)),
            },
        ),
    ]


def _first(d: dict, n: int = 100) -> dict:
    """At most `n` entries, so a 900-partition run does not put megabytes into the event log."""
    return dict(list(d.items())[:n])
