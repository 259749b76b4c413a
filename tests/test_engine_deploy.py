"""A deploy makes its task root outside the engine's lock: while a large package is being copied,
other functions' invocations run, the pool and the history can be read, and nothing waits for it."""

from __future__ import annotations

import os
import shutil
import threading

import lambda_widget as lw

HANDLER = "def lambda_handler(event, context):\n    return 'deployed'\n"
WARM = "def lambda_handler(event, context):\n    return 'warm'\n"
HOLD = "zz_hold.txt"  # copying this file of the package waits until the test lets it go


def test_other_functions_run_while_a_package_is_copied(isolation, tmp_path, monkeypatch):
    code = tmp_path / "src"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    (code / HOLD).write_text("data")
    holding, release = threading.Event(), threading.Event()
    real_copy = shutil.copy2

    def copy2(src, dst, *args, **kwargs):
        if os.path.basename(src) == HOLD and str(src).startswith(str(code)):
            holding.set()
            release.wait(120)
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr(shutil, "copy2", copy2)
    deployed: list = []
    with lw.ContainerManager(seed=1) as mgr:
        mgr.register("other", WARM)
        assert mgr.invoke("other").result == "warm"
        deploy = threading.Thread(target=lambda: deployed.append(
            mgr.register("big", path=str(code), handler="app.lambda_handler")))
        deploy.start()
        seen: dict = {}
        seen_all = threading.Event()

        def meanwhile() -> None:  # what a user does in another cell while the deploy runs
            seen["invocation"] = mgr.invoke("other")
            seen["pool"] = [e.function_name for e in mgr.containers]
            seen["functions"] = sorted(mgr.functions)
            seen_all.set()

        try:
            assert holding.wait(60), "the deploy never reached the copy"
            # The copy is held now. On an engine that copies under its lock, all of this waits.
            threading.Thread(target=meanwhile, daemon=True).start()
            assert seen_all.wait(30), "the engine waited for the deploy's copy"
            inv = seen["invocation"]
            assert (inv.status, inv.cold, inv.result) == ("succeeded", False, "warm")
            assert seen["pool"] == ["other"]
            assert seen["functions"] == ["other"]  # "big" is published once its code is in place
        finally:
            release.set()
            deploy.join(120)
        assert not deploy.is_alive() and deployed and mgr.function("big") is deployed[0]
        assert mgr.invoke("big").result == "deployed"
        again = mgr.register("big", path=str(code), handler="app.lambda_handler")  # over the first copy
        assert mgr.function("big") is again and mgr.invoke("big").result == "deployed"
