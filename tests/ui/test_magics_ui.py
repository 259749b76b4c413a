"""The %%lambda / %lambda magics in JupyterLab: invocation views, warm badge, pool cards, stepper."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .uiharness import NotebookPage, write_notebook

pytestmark = pytest.mark.ui

SEED_HANDLER = """def lambda_handler(event, context):
    print('Start')
    result = event['value'] * 2
    print('End')
    return result"""
# Each invocation of `together` waits at a gate in the kernel until all three are running: the burst
# overlaps for certain, so it needs three environments (trivial invocations need not overlap at all).
GATE = """import socket, threading
gate = socket.create_server(("127.0.0.1", 0))

def open_gate(n=3):
    held = [gate.accept()[0] for _ in range(n)]  # all three are running now
    for conn in held:
        conn.sendall(b"go")
        conn.close()

threading.Thread(target=open_gate, daemon=True).start()"""
TOGETHER = """%%lambda together --timeout 60
import socket


def lambda_handler(event, context):
    with socket.create_connection(("127.0.0.1", event["port"])) as gate:
        return gate.recv(2).decode()"""
CELLS = [
    "%load_ext lambda_widget",
    "%%lambda double --invoke '{\"value\": 5}'\n" + SEED_HANDLER,
    "%lambda invoke double '{\"value\": 7}'",
    GATE,
    TOGETHER,
    "%lambda burst together 3 {'port': gate.getsockname()[1]}",
]
SEED, WARM, BURST = 1, 2, 5  # cell indexes


def test_magics_render_views_and_stepper(lab: NotebookPage) -> None:
    lab.open(write_notebook(lab.server.root, "magics.ipynb", CELLS))
    lab.run_all()
    lab.wait_widgets()

    seed = lab.outputs(SEED)
    for css in (".lw-invocation", ".lw-flow", ".lw-step-table", ".lw-tracker", ".lw-stepper"):
        expect(seed.locator(css).first, f"seed cell shows {css}").to_be_visible()
    expect(seed.locator(".lw-badge-cold").first).to_be_visible()
    # The seed's run has (at least) the 7 steps of the design's table.
    expect(seed.locator(".lw-step-table tbody tr").nth(6)).to_be_attached()
    lab.screenshot("seed", seed.first)

    expect(lab.outputs(WARM).locator(".lw-badge-warm").first).to_be_visible()
    lab.screenshot("warm", lab.outputs(WARM).first)

    # Three requests at once, none of which can end before the others started: three environments.
    burst = lab.outputs(BURST)
    expect(burst.locator(".lw-progress").first).to_have_text("3 of 3 done")
    expect(burst.locator(".lw-pool-card")).to_have_count(3)
    lab.screenshot("burst", lab.outputs(BURST).first)

    # Stepper: First puts the highlight on step 1, Next moves it to step 2 (a kernel round trip).
    current = seed.locator(".lw-step-table tr.lw-current td").first
    seed.locator(".lw-stepper .lw-first").click()
    expect(current).to_have_text("1")
    expect(seed.locator(".lw-tracker .lw-current").first).to_be_attached()
    seed.locator(".lw-stepper .lw-next").click()
    expect(current).to_have_text("2")
    lab.screenshot("stepper-next", seed.first)

    assert lab.blocked_requests == []
    assert lab.unexpected_console_errors() == []
