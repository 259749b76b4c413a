"""Case 7: a warm invoke through the HTTP front: boto3 against ``mgr.serve()`` and a function URL,
against ``mgr.invoke`` and a bare loopback HTTP round trip measured in the same run."""

from __future__ import annotations

import time
import urllib.request
from contextlib import ExitStack
from typing import Any

import lambda_widget as lw
from benchmarks.baselines import HttpRoundTrip, available
from benchmarks.handlers import TRIVIAL
from benchmarks.sizes import Sizes
from benchmarks.stats import CaseResult, interleave

BOTO3 = "boto3 invoke through mgr.serve(), warm"
URL = "function URL through urllib, warm"
DIRECT = "mgr.invoke, warm"
HTTP = "HTTP/1.1 keep-alive round trip to a child"
EVENT = {"value": 5}


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(sizes: Sizes) -> CaseResult:
    result = CaseResult("front", "Warm invoke through the HTTP front (Invoke API, function URL)")
    with ExitStack() as stack:
        mgr = stack.enter_context(lw.ContainerManager(seed=1))
        mgr.register("trivial", TRIVIAL, trace=False)
        mgr.invoke("trivial", EVENT)  # the cold start is not part of this case
        endpoint = stack.enter_context(mgr.serve())
        url = mgr.function_url("trivial")
        http = stack.enter_context(HttpRoundTrip())

        def by_url() -> None:
            with urllib.request.urlopen(url + "?value=5", timeout=30) as response:
                response.read()

        contenders: dict[str, Any] = {
            DIRECT: lambda: _timed(lambda: mgr.invoke("trivial", EVENT)),
            URL: lambda: _timed(by_url),
            HTTP: lambda: _timed(lambda: http.call(EVENT)),
        }
        if available("boto3"):
            import boto3
            from botocore.config import Config

            client = boto3.client("lambda", endpoint_url=endpoint.url, region_name="us-east-1",
                                  aws_access_key_id="bench", aws_secret_access_key="bench",
                                  config=Config(retries={"max_attempts": 0}))
            client.invoke(FunctionName="trivial", Payload=b'{"value": 5}')  # connection and model warm-up
            contenders[BOTO3] = lambda: _timed(
                lambda: client.invoke(FunctionName="trivial", Payload=b'{"value": 5}')["Payload"].read())
        else:
            result.notes.append("boto3 is not installed: its measurement was skipped")
        samples = interleave(contenders, sizes.warm_rounds, sizes.warm_per_round)
    for name in contenders:
        result.add(name, samples[name])
    result.compare(BOTO3, DIRECT)
    result.compare(URL, DIRECT)
    result.compare(URL, HTTP)
    result.notes.append("boto3 signs every request (SigV4) and parses the response model: most of its "
                        "time is the client's own")
    return result
