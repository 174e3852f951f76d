"""Asset checks of `resampled_5s`, evaluated per partition of the run.

- `cadence_and_schema` (BLOCKING, error): the pandera hour-file schema of `core.validate` (5-second
  grid, 720 rows per hour, the catalog's columns, types and bounds) on exactly the table that was
  written. Blocking: when it fails, downstream assets (the plot) are not materialised in that run.
- `completeness` (warning): the share of 5-second bins with a real sample, averaged over columns,
  must reach `min_completeness`; below it the check warns but does not block.
- `value_anomalies` (warning): new text values, out-of-range or non-finite samples, payloads and tag
  keys the catalog does not know, counted per kind; the data is written all the same, and the detail
  is in the day's quality report (`_quality/YYYY/MM/DD.json` beside the hour files).

The checks are declared on the asset (check_specs) rather than as separate check ops: the
numbers are produced by the same worker that wrote the partition, so a run covering many partitions
does not read everything back again. Per-partition verdicts are in the check metadata.
"""

from __future__ import annotations

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, Config, MetadataValue

from sim_platform.core.quality import ANOMALY_SECTIONS, QUALITY_DIR
from sim_platform.core.rawdata import clip
from sim_platform.defs.silver_batch import PartitionSummary

CADENCE_CHECK = "cadence_and_schema"
COMPLETENESS_CHECK = "completeness"
ANOMALY_CHECK = "value_anomalies"


class SilverCheckConfig(Config):
    min_completeness: float = 0.5


def silver_check_specs(asset_key: str | list[str]) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(CADENCE_CHECK, asset=asset_key, blocking=True,
                       description="pandera: 5-second grid, 720 rows per hour, catalog columns, types and bounds"),
        AssetCheckSpec(COMPLETENESS_CHECK, asset=asset_key,
                       description="share of 5-second bins with a real sample (warns below the threshold)"),
        AssetCheckSpec(ANOMALY_CHECK, asset=asset_key,
                       description="value rules: new text values, out-of-range and non-finite samples, unknown payloads "
                       "and tag keys (warns; the data is written, the day's quality report has the detail)"),
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
            description=clip(f"{len(bad)} partition(s) break the hour-file schema; first: {next(iter(bad))}: {next(iter(bad.values()))}", 300) if bad else None,
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
        _anomaly_result(results),
    ]


def _anomaly_result(results: dict[tuple[str, str], PartitionSummary]) -> AssetCheckResult:
    """WARN when any partition of the run has value anomalies; the counts are the metadata."""
    totals = {k: sum(s.anomalies.get(k, 0) for s in results.values()) for k in ANOMALY_SECTIONS}
    flagged = {f"{d}|{pm}": {k: n for k, n in s.anomalies.items() if n} for (d, pm), s in sorted(results.items()) if any(s.anomalies.values())}
    days = sorted({d for (d, _), s in results.items() if any(s.anomalies.values())})
    return AssetCheckResult(
        check_name=ANOMALY_CHECK,
        passed=not flagged,
        severity=AssetCheckSeverity.WARN,
        metadata={
            **{f"{k}_columns": n for k, n in totals.items()},
            "partitions_with_anomalies": len(flagged),
            "days_with_anomalies": MetadataValue.json(days[:100]),
            "by_partition": MetadataValue.json(_first(flagged)),
            "reports": f"{QUALITY_DIR}/YYYY/MM/DD.json beside the hour files",
        },
        description=(f"value anomalies in {len(flagged)} partition(s) over {len(days)} day(s); data written" if flagged else None),
    )


def _first(d: dict, n: int = 100) -> dict:
    """At most `n` entries, so a 900-partition run does not put megabytes into the event log."""
    return dict(list(d.items())[:n])
