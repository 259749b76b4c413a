"""The code that runs inside an execution environment.

Standard library only: it must start fast and import nothing of the kernel stack.
It is a Lambda Runtime API client, like awslambdaric's bootstrap, plus an optional
line tracer that records the steps and variables the views show.
"""
