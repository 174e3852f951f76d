"""Asset checks of `resampled_5s`, evaluated over the partitions of the run.

- `cadence_and_schema` (BLOCKING, error): the hour-file contract -- the pandera schema of
  `core.silver.validate` (5-second grid, 720 rows per hour, the catalog's columns and types) and the
  catalog's blocking value policies (`out_of_range: fail`) -- checked BEFORE anything is written,
  the same way `sim-platform etl` checks it. A day that breaks it is not written; the check fails,
  naming it, and being blocking it keeps the run's downstream steps (the plot) from running.
- `completeness` (warning): per partition, the share of the day in which the hierarchy reported,
  each signal judged against its own expected cadence, i.e. its fill limit (a cell voltage sampled a
  few times an hour counts as present between its samples; a module voltage silent for longer than
  120 s does not). A normal day of the real plant scores 0.8-1.0; an outage of hours, or a day cut
  short, falls below `min_completeness` (default 0.75) and warns. (A phase's or the system's
  plant counts have a 6-hour fill limit: a shorter outage shows in the modules' verdicts.)
- `value_anomalies` (warning): new text values, out-of-range or non-finite samples, payloads and tag
  keys the catalog does not know, counted per kind; the data is written all the same, and the detail
  is in the day's quality report (`_quality/YYYY/MM/DD.json` beside the hour files).

The checks are declared on the asset (check_specs): the numbers are produced by the same worker that
built the partition, so a run covering many partitions does not read everything back again.
Per-partition verdicts are in the check metadata.
"""

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, Config, MetadataValue

from sim_platform.core.silver.days import PartitionSummary
from sim_platform.core.silver.quality import ANOMALY_SECTIONS, QUALITY_DIR
from sim_platform.core.text import shorten

CADENCE_CHECK = "cadence_and_schema"
COMPLETENESS_CHECK = "completeness"
ANOMALY_CHECK = "value_anomalies"
DEFAULT_MIN_COMPLETENESS = 0.75


class SilverCheckConfig(Config):
    min_completeness: float = DEFAULT_MIN_COMPLETENESS


def silver_check_specs(asset_key: str | list[str]) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            CADENCE_CHECK,
            asset=asset_key,
            blocking=True,
            description="before writing: pandera (5-second grid, 720 rows per hour, catalog columns and types) "
            "and the catalog's blocking value policies; a day that breaks them is not written",
        ),
        AssetCheckSpec(
            COMPLETENESS_CHECK,
            asset=asset_key,
            description="share of the day in which the hierarchy reported, each signal against its own "
            "cadence (fill limit); warns below min_completeness (an outage, a day cut short)",
        ),
        AssetCheckSpec(
            ANOMALY_CHECK,
            asset=asset_key,
            description="value rules: new text values, out-of-range and non-finite samples, unknown payloads "
            "and tag keys (warns; the data is written, the day's quality report has the detail)",
        ),
    ]


def silver_check_results(
    results: dict[tuple[str, str], PartitionSummary], refused: dict[str, str], min_completeness: float
) -> list[AssetCheckResult]:
    """`results`: the built partitions; `refused`: partition key -> why the contract refused it."""
    bad = dict(sorted(refused.items()))
    built = {(d, pm): s for (d, pm), s in results.items() if s.rows}
    low = {f"{d}|{pm}": s.completeness for (d, pm), s in sorted(built.items()) if s.completeness < min_completeness}
    return [
        AssetCheckResult(
            check_name=CADENCE_CHECK,
            passed=not bad,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "partitions_checked": len(results) + len(bad),
                "failing_count": len(bad),
                "failing": MetadataValue.json(_first(bad)),
            },
            description=shorten(
                f"{len(bad)} partition(s) break the hour-file contract and were not written; first: "
                f"{next(iter(bad))}: {next(iter(bad.values()))}",
                300,
            )
            if bad
            else None,
        ),
        AssetCheckResult(
            check_name=COMPLETENESS_CHECK,
            passed=not low,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "threshold": min_completeness,
                "min": min((s.completeness for s in built.values()), default=1.0),
                "longest_silence_min": max((s.longest_silence_min for s in built.values()), default=0.0),
                "below_threshold_count": len(low),
                "below_threshold": MetadataValue.json(_first(low)),
            },
            description=(
                f"{len(low)} partition(s) reported for less than {min_completeness:.0%} of the day "
                f"(lowest {min(low.values()):.0%})"
                if low
                else None
            ),
        ),
        _anomaly_result(results),
    ]


def _anomaly_result(results: dict[tuple[str, str], PartitionSummary]) -> AssetCheckResult:
    """WARN when any partition of the run has value anomalies; the counts are the metadata."""
    totals = {k: sum(s.anomalies.get(k, 0) for s in results.values()) for k in ANOMALY_SECTIONS}
    flagged = {
        f"{d}|{pm}": {k: n for k, n in s.anomalies.items() if n}
        for (d, pm), s in sorted(results.items())
        if any(s.anomalies.values())
    }
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
        description=(
            f"value anomalies in {len(flagged)} partition(s) over {len(days)} day(s); data written" if flagged else None
        ),
    )


def _first(d: dict, n: int = 100) -> dict:
    """At most `n` entries, so a 900-partition run does not put megabytes into the event log."""
    return dict(list(d.items())[:n])
