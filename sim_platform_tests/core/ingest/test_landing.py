"""Which raw files a run of some days looks at (`core.ingest.landing.may_hold`)."""

from datetime import date

from sim_platform.core.ingest.landing import NAME_DAY_MARGIN, may_hold, near_days


def test_a_run_looks_at_its_days_their_neighbours_and_undated_names():
    near = near_days([date(2024, 7, 1), date(2024, 7, 10)])
    assert NAME_DAY_MARGIN == 1 and len(near) == 6
    assert may_hold("telemetry/2024/07/01/telemetry-export-metrics-2-2024-07-01-23-45-45-x.parquet", near)
    # an export named just after midnight may hold the last minutes of the day before, and the other way
    assert may_hold("telemetry/2024/07/02/telemetry-export-metrics-2-2024-07-02-00-00-10-x.parquet", near)
    assert may_hold("telemetry/2024/06/30/telemetry-export-metrics-2-2024-06-30-23-59-50-x.parquet", near)
    assert not may_hold("telemetry/2024/07/03/telemetry-export-metrics-2-2024-07-03-00-00-10-x.parquet", near)
    assert not may_hold("telemetry/2024/08/06/a.parquet", near)
    assert may_hold("scada/2024-07-11.csv", near)  # a date in the file name counts as the folders do
    assert may_hold("runs/run_03/sample_07.h5", near)  # no day in the name: dated by its metadata
