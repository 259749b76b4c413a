"""``%lambda traffic NAME --rate 5/s --for 1h``: the simulator from the magic."""

from __future__ import annotations

import pytest
from conftest import SEED_SOURCE
from IPython.core.error import UsageError
from IPython.testing import globalipapp
from IPython.utils.capture import capture_output

import lambda_widget as lw


@pytest.fixture(scope="module")
def ip():
    shell = globalipapp.get_ipython()  # looked up now: the first call replaces the module's function
    shell.run_line_magic("load_ext", "lambda_widget")
    magics = shell.magics_manager.registry["LambdaMagics"]
    magics.display = "text"
    lw.get_manager().reset()
    shell.run_cell_magic("lambda", "double --idle-timeout 300", SEED_SOURCE)
    yield shell
    magics.display = "auto"
    lw.get_manager().reset()


def test_traffic_prints_the_summary(ip):
    with capture_output() as out:
        ip.run_line_magic("lambda", "traffic double --rate 5/s --for 1h --idle-timeout 10m --provisioned 1 "
                                    "--event '{\"value\": 5}'")
    lines = out.stdout.splitlines()
    assert lines[0].startswith("18,") and "invocations in 1 h" in lines[0]
    assert lines[1].startswith("environments: mean")
    assert lines[-1].endswith(tuple("0123456789")) and "$" in lines[-1]


def test_traffic_help_and_bad_input(ip):
    with capture_output() as out:
        ip.run_line_magic("lambda", "traffic --help")
    assert "--idle-timeout" in out.stdout and "--provisioned" in out.stdout
    with pytest.raises(UsageError, match="cannot read the rate"):
        ip.run_line_magic("lambda", "traffic double --rate quick")
    with pytest.raises(UsageError, match="no function named 'triple'"):
        ip.run_line_magic("lambda", "traffic triple --rate 1/s")
    with pytest.raises(UsageError, match="rate"):
        ip.run_line_magic("lambda", "traffic double")
