"""Issue 12, item 4: the real engine reaches Lambda's default account concurrency.

A burst of 1,000 events at a handler that sleeps gets 1,000 real environments on this
machine; every one answers, a warm invoke of another function completes during the burst,
and everything is reaped afterwards. ``LW_SCALE`` sets the size (default 1,000).
"""

from __future__ import annotations

import os
import threading
import time

import psutil
import pytest
from conftest import SLEEPER_SOURCE, wait_for
from test_fidelity_helpers import Containment

BURST = int(os.environ.get("LW_SCALE", "1000"))
SLEEP = 20.0  # longer than the ramp to 1,000 environments takes here (about 10 s)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_burst_of_1000_gets_1000_environments_and_all_answer():
    with Containment(seed=12, max_concurrency=BURST) as box:
        mgr = box.mgr
        # 1,000 running executions fill the default account pool, and the other function's invoke
        # would be throttled as on AWS: the quota goes up by one, as AWS raises it on request.
        mgr.placement.limits.account_concurrency = BURST + 1
        mgr.register("sleepy", SLEEPER_SOURCE, trace=False, timeout=600)
        mgr.register("other", "def lambda_handler(event, context):\n    return 'warm'\n", trace=False)
        assert mgr.invoke("other", {}).cold is True

        futures = [mgr.submit("sleepy", {"sleep": SLEEP}) for _ in range(BURST)]
        # While the burst is at its height, another function's warm environment still answers.
        assert wait_for(lambda: sum(e.function_name == "sleepy" for e in mgr.containers) >= BURST // 2,
                        timeout=300)
        during: list = []
        caller = threading.Thread(target=lambda: during.append(mgr.invoke("other", {})))
        started = time.monotonic()
        caller.start()
        caller.join(timeout=120)
        assert during and (during[0].status, during[0].result, during[0].cold) == ("succeeded", "warm", False)
        assert time.monotonic() - started < 120
        assert any(not f.done() for f in futures), "the burst was over before the warm invoke"

        records = [f.result(timeout=600) for f in futures]
        assert {r.status for r in records} == {"succeeded"}, \
            {r.status: r.error for r in records if r.status != "succeeded"}
        assert len({r.container_id for r in records}) == BURST  # one environment each
        assert len({r.result for r in records}) == BURST  # each answered its own request
        pids = {e.pid for e in mgr.containers if e.function_name == "sleepy"}
        assert len(pids) == BURST

        reaped = mgr.advance(600)
        assert len(reaped) == BURST + 1
        assert mgr.containers == []
        assert wait_for(lambda: not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                                        for p in pids), timeout=120)
