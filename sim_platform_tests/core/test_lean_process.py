"""A clean day is read, resampled, validated and written without pandas.

pyarrow imports pandas the first time it converts between Arrow and numpy through its own
functions (`to_numpy`, `pa.array`), which costs a process 0.12 s; the ETL converts through buffers
instead (`rawdata.numpy_view`, `arrow_view`, `arrow_strings`). pandas stays for the rare paths
(pandera's message when a table breaks the contract, flagged samples, conflicting duplicates).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_sample_day_never_imports_pandas_in_any_process(sample_data, tmp_path):
    marker = tmp_path / "imported"
    day = sample_data / "2024" / "07" / "05"
    script = textwrap.dedent(
        f"""
        import sys, traceback

        class Watch:  # inherited by the forked workers: an import of pandas anywhere leaves its stack
            def find_spec(self, name, path=None, target=None):
                if name == "pandas":
                    with open({str(marker)!r}, "a") as f:
                        traceback.print_stack(file=f)
                return None

        sys.meta_path.insert(0, Watch())
        from sim_platform.core.etl import run_etl

        summary = run_etl({str(day)!r}, {str(tmp_path / "out")!r}, workers=2)
        assert summary.ok and len(summary.days[0].files_written) == 672, summary
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), marker.read_text()
