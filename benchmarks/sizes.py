"""How much each case measures: the full run, ``--quick``, and the smoke test's tiny sizes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    warm_rounds: int = 20  # each round: every contender once per ``warm_per_round``
    warm_per_round: int = 25
    direct_batch: int = 2000  # direct calls timed together (one sample = their mean)
    local_per_round: int = 2  # python-lambda-local forks a process per call: fewer of them
    cold_rounds: int = 25
    loop_iterations: int = 1000
    trace_rounds: int = 15
    burst: int = 1000
    burst_rounds: int = 6  # bursts are long and few: more rounds steady the medians
    burst_concurrency: int = 2
    memory_envs: int = 5
    scale_envs: int = 50
    scale_rounds: int = 3  # fresh-interpreter runs per mode
    scale_burst: int = 1000  # Lambda's default account concurrency
    scale_burst_rounds: int = 2
    cpu_rounds: int = 5  # each round: every memory size spins once
    cpu_spin_s: float = 1.0  # wall seconds of one spin
    traffic_rounds: int = 3  # simulator runs per workload and contender
    traffic_scale: float = 1.0  # share of the simulated durations (1 day, 1 hour) actually simulated
    queue_messages: int = 10_000  # messages drained by an SQS mapping (batch size 10)
    queue_rounds: int = 3


FULL = Sizes()
QUICK = Sizes(warm_rounds=5, warm_per_round=10, direct_batch=500, local_per_round=1,
              cold_rounds=5, loop_iterations=1000, trace_rounds=3, burst=100, burst_rounds=1,
              memory_envs=2, scale_envs=10, scale_rounds=1, scale_burst=100,
              scale_burst_rounds=1, cpu_rounds=1, cpu_spin_s=0.5, traffic_rounds=1, queue_messages=2000,
              queue_rounds=1)
TINY = Sizes(warm_rounds=1, warm_per_round=2, direct_batch=10, local_per_round=1, cold_rounds=1,
             loop_iterations=20, trace_rounds=1, burst=4, burst_rounds=1, memory_envs=1,
             scale_envs=3, scale_rounds=1, scale_burst=6, scale_burst_rounds=1, cpu_rounds=1,
             cpu_spin_s=0.1, traffic_rounds=1,
             traffic_scale=0.01, queue_messages=50, queue_rounds=1)
