"""`sim-platform gold` over `sim-platform etl` output: features, training sets per quarter, the
warehouse load (DuckDB by default, PostgreSQL from the environment), reruns replace."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sim_platform.cli import main
from sim_platform.core.gold.warehouse import open_warehouse
from sim_platform_tests.postgres import Postgres


@pytest.fixture(scope="module")
def silver(generated_runs: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("silver")
    assert main(["etl", "--input", str(generated_runs), "--output", str(out)]) == 0
    return out


def test_gold_cli_duckdb_rerun_replaces(silver: Path, tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("SIM_PLATFORM_WAREHOUSE_URL", raising=False)
    gold = tmp_path / "gold"
    assert main(["gold", "--silver", str(silver), "--gold", str(gold)]) == 0
    out = capsys.readouterr().out
    assert "2024Q3: 48 module-days -> ml_training_set/2024Q3.parquet; warehouse inserted 48, updated 0, deleted 0" in out
    assert len(list((gold / "module_day_features").rglob("*.parquet"))) == 48
    assert pq.read_table(gold / "ml_training_set" / "2024Q3.parquet").num_rows == 48
    assert main(["gold", "--silver", str(silver), "--gold", str(gold), "--quarter", "2024Q3"]) == 0
    assert "inserted 0, updated 48, deleted 0" in capsys.readouterr().out
    with open_warehouse(None, gold / "warehouse.duckdb") as wh:
        assert wh.row_count() == 48


def test_gold_cli_postgres_never_prints_the_password(silver: Path, tmp_path: Path, capsys, monkeypatch):
    with Postgres() as pg:
        url = pg.url.replace("postgres@", "postgres:s3cret-pw@")  # trust auth accepts it; it must not show
        monkeypatch.setenv("SIM_PLATFORM_WAREHOUSE_URL", url)
        assert main(["gold", "--silver", str(silver), "--gold", str(tmp_path / "gold")]) == 0
        out = capsys.readouterr()
        assert "warehouse: postgresql postgresql+psycopg2://postgres:***@127.0.0.1" in out.out
        assert "s3cret-pw" not in out.out + out.err
        with open_warehouse(url, "unused.duckdb") as wh:
            assert wh.row_count() == 48
    assert not (tmp_path / "gold" / "warehouse.duckdb").exists()


def test_gold_cli_refuses_an_empty_silver_folder(tmp_path: Path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["gold", "--silver", str(tmp_path / "empty"), "--gold", str(tmp_path / "g")]) == 2
    assert "no module hour files" in capsys.readouterr().err
