"""Shared by both functions: loaded once per execution environment, at init."""

import os
import time

from textcase import tidy  # from the template's layer (/opt/python), not from src/

time.sleep(0.2)  # stands in for slow start-up work: reading config, opening a connection
GREETING = os.environ.get("GREETING", "Hello")


def greet(name):
    clean = tidy(name)
    return f"{GREETING}, {clean}!"
