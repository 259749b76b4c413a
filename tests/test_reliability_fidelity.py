"""Issue 11, item 12: what a handler sees is Lambda's, with or without the fork server.

A user-set ``PYTHONPATH`` is honoured, the open-file limit is 1,024, a SIGCONT handler never
sees a thaw, and ``Function.ResponseSizeTooLarge`` writes its ``[ERROR]`` line.
"""

from __future__ import annotations

import pytest
from conftest import wait_for

import lambda_widget as lw

RUNTIMES = ["bundled", "awslambdaric"]


@pytest.mark.parametrize("fork_server", [True, False])
def test_a_user_set_pythonpath_is_honoured(tmp_path, fork_server):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "helper_for_lambda.py").write_text("GREETING = 'from PYTHONPATH'\n")
    source = ("import sys\nimport helper_for_lambda\n\n\ndef lambda_handler(event, context):\n"
              "    return [helper_for_lambda.GREETING, sys.path.index(event)]\n")
    # The fallback mode: in a sandbox, the test's directory under /tmp is not the handler's /tmp.
    with lw.ContainerManager(seed=1, fork_server=fork_server, isolation="process") as mgr:
        mgr.register("pp", source, env={"PYTHONPATH": str(lib)})
        inv = mgr.invoke("pp", str(lib))
    assert inv.status == "succeeded", inv.error
    assert inv.result == ["from PYTHONPATH", 1]  # right after the task root, as Python puts it


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_environments_have_lambdas_open_file_limit(mgr, runtime):
    source = ("import resource\n\n\ndef lambda_handler(event, context):\n"
              "    return list(resource.getrlimit(resource.RLIMIT_NOFILE))\n")
    mgr.register(f"nofile-{runtime}", source, runtime=runtime)
    inv = mgr.invoke(f"nofile-{runtime}", {})
    assert (inv.status, inv.result) == ("succeeded", [1024, 1024]), inv.error


def test_opening_more_than_1024_files_fails_in_the_handler(mgr):
    source = ("import os\n\n\ndef lambda_handler(event, context):\n    fds = []\n    try:\n"
              "        for _ in range(2000):\n            fds.append(os.open('/dev/null', os.O_RDONLY))\n"
              "    except OSError as exc:\n        return [len(fds) < 1024, exc.errno]\n"
              "    finally:\n        for fd in fds:\n            os.close(fd)\n    return 'unlimited'\n")
    mgr.register("many-files", source, trace=False)
    assert mgr.invoke("many-files", {}).result == [True, 24]  # EMFILE


SIGCONT_SOURCE = """import signal

SEEN = []
signal.signal(signal.SIGCONT, lambda signum, frame: SEEN.append(signum))


def lambda_handler(event, context):
    return len(SEEN)
"""


def test_a_sigcont_handler_never_sees_a_thaw(mgr):
    mgr.register("thaw-watcher", SIGCONT_SOURCE, trace=False)
    counts = []
    for _ in range(4):
        inv = mgr.invoke("thaw-watcher", {})
        counts.append(inv.result)
        assert wait_for(lambda: mgr.containers[0].frozen, timeout=5)
    assert counts == [0, 0, 0, 0]
    assert {i.cold for i in mgr.history[1:]} == {False}


BIG_RESPONSE_SOURCE = "def lambda_handler(event, context):\n    return 'x' * event\n"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_response_size_too_large_writes_the_error_line(mgr, runtime):
    mgr.register(f"too-large-{runtime}", BIG_RESPONSE_SOURCE, runtime=runtime, trace=False, timeout=30)
    inv = mgr.invoke(f"too-large-{runtime}", 7_000_000)
    assert inv.error["errorType"] == "Function.ResponseSizeTooLarge"
    expected = ("[ERROR] Function.ResponseSizeTooLarge: Response payload size (7000002 bytes) exceeded "
                "maximum allowed payload size (6291556 bytes).")
    assert expected in inv.logs, inv.logs
    assert inv.logs.index(expected) < next(i for i, line in enumerate(inv.logs) if line.startswith("END "))
