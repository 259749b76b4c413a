"""Kernels older than Linux 5.3 have no pidfd_open: exits are then seen as the log pipe's end."""

from __future__ import annotations

import os

import lambda_widget as lw


def test_a_crash_is_reported_as_a_crash_without_pidfd(monkeypatch):
    def no_pidfd(pid: int, flags: int = 0) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    with lw.ContainerManager(seed=1) as mgr:
        mgr.register("crash", "import os\n\ndef lambda_handler(event, context):\n"
                              "    if event.get('die'):\n        os._exit(3)\n    return 'ok'\n",
                     timeout=30)
        assert mgr.invoke("crash", {}).result == "ok"
        inv = mgr.invoke("crash", {"die": True})
        # Reported at once as the crash it is, not after the 30 s timeout as "timed-out".
        assert inv.status == "crashed"
        assert inv.error["errorType"] == "Runtime.ExitError"
        assert "exit status 3" in inv.error["errorMessage"]
        again = mgr.invoke("crash", {})
        assert again.cold and again.cold_reason == "reset-after-crash" and again.result == "ok"
