"""Shared by both functions: loaded once per execution environment, at init."""

import os
import time

time.sleep(0.2)  # stands in for slow start-up work: reading config, opening a connection
GREETING = os.environ.get("GREETING", "Hello")


def greet(name):
    clean = name.strip().title() or "Stranger"
    return f"{GREETING}, {clean}!"
