"""A process of an environment dies with the process that started it (stdlib only)."""

from __future__ import annotations

import os
import signal

_prctl = None  # libc's prctl, looked up once (in the zygote, before it forks)


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> None:
    """Be sent ``sig`` (killed) when the process that started us dies (the kernel, even on SIGKILL)."""
    global _prctl
    try:
        if _prctl is None:
            import ctypes

            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        _prctl(1, sig)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent and os.getppid() != parent:
        os._exit(1)
