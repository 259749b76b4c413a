"""Every benchmark case runs once with tiny sizes, so the benchmarks cannot rot.

Nothing here asserts on speed: the cases must run, measure what they claim, compare
against the baselines that are installed, and write JSON that loads back.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import baselines  # noqa: E402
from benchmarks.__main__ import main  # noqa: E402
from benchmarks.cases import CASES, cold, views, warm  # noqa: E402
from benchmarks.report import render  # noqa: E402
from benchmarks.sizes import TINY  # noqa: E402
from benchmarks.stats import CaseResult, Ratio, percentile  # noqa: E402

HAS_LOCAL = baselines.available("lambda_local")
HAS_RIC = baselines.available("awslambdaric")


@pytest.fixture(scope="module")
def results() -> dict[str, CaseResult]:
    """Each case once, tiny sizes; one run shared by the checks below."""
    return {name: run(TINY) for name, run in CASES.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_case_measures_something_finite(results: dict[str, CaseResult], name: str) -> None:
    result = results[name]
    if name == "views" and not views._views_available():
        pytest.skip("lambda_widget.views is not available")
    assert result.name == name
    assert result.measurements, result.notes
    for m in result.measurements:
        assert m.samples, m.label
        assert all(math.isfinite(s) and (m.signed or s >= 0) for s in m.samples), (m.label, m.samples)
    for ratio in result.ratios:
        assert math.isfinite(ratio.ratio) and ratio.ratio > 0, ratio
    data = json.loads(json.dumps(result.to_dict()))
    assert data["name"] == name
    assert render(result).startswith(f"### {name}:")


def test_warm_compares_against_every_installed_baseline(results: dict[str, CaseResult]) -> None:
    result = results["warm"]
    assert result.get(warm.HTTP) is not None and result.get(warm.DIRECT) is not None
    assert (result.get(warm.LOCAL) is not None) == HAS_LOCAL
    assert (result.get(warm.RIC) is not None) == HAS_RIC
    targets = {r.baseline: r.target for r in result.ratios}
    assert targets[warm.HTTP] == "≤ 2×"
    if HAS_LOCAL:
        assert targets[warm.LOCAL] == "≥ 15× faster"


def test_cold_compares_against_spawn_and_awslambdaric(results: dict[str, CaseResult]) -> None:
    result = results["cold"]
    assert {r.baseline for r in result.ratios} >= {cold.BARE}
    assert (result.get(cold.RIC) is not None) == HAS_RIC
    assert result.info["first_cold_start_with_fork_server_boot_s"] > 0


def test_tracing_counts_the_traced_lines(results: dict[str, CaseResult]) -> None:
    info = results["tracing"].info
    assert info["traced_lines"] >= 2 * TINY.loop_iterations
    assert info["capped_lines"] == min(500, info["traced_lines"])


def test_memory_and_scale_report_bytes_and_every_environment(results: dict[str, CaseResult]) -> None:
    memory = results["memory"].get("USS, fork server")
    assert memory is not None and memory.unit == "B" and memory.median > 0
    inits = results["scale"].get(f"init duration per environment, {TINY.scale_envs} at once (fork server)")
    assert inits is not None and len(inits.samples) == TINY.scale_envs


def test_ratio_and_percentile_arithmetic() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert Ratio("a", "b", 1.5, at_most=2.0).met is True
    assert Ratio("a", "b", 2.5, at_most=2.0).met is False
    assert Ratio("a", "b", 1 / 20, faster_by=15.0).met is True
    assert Ratio("a", "b", 1 / 10, faster_by=15.0).met is False


def test_command_line_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.json"
    assert main(["--tiny", "--only", "tracing", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["mode"] == "tiny"
    assert [c["name"] for c in data["cases"]] == ["tracing"]
    assert "### tracing:" in capsys.readouterr().out


def test_traffic_compares_with_simfaas_when_installed(results: dict[str, CaseResult]) -> None:
    from benchmarks.cases import traffic

    result = results["traffic"]
    for label in traffic.WORKLOADS:
        ours = result.info[traffic.ours(label)]
        assert ours["requests"][0] > 0 and 0 <= ours["cold_start_ratio"][0] <= 1
        assert (result.get(traffic.theirs(label)) is not None) == baselines.available("simfaas")
    assert [x.label for x in result.limits] == [traffic.BIG]
