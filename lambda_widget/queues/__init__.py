"""Queues: SQS event source mappings, run against a real SQS endpoint on the manager's clock.

The endpoint itself (moto's SQS server, in its own process) is ``lambda_widget.front.sqs``; this package is
what Lambda does with a queue: pollers that receive messages, batches invoked as ordinary synchronous
invocations, deletes, retries after the visibility timeout, filters and scaling, all by the rules in
``lambda_widget.placement.esm`` that the traffic lab's queue simulation uses too.
"""

from lambda_widget.queues.filters import matches, parse_filters
from lambda_widget.queues.mapping import Batch, EventSourceMapping
from lambda_widget.queues.service import QueueService

__all__ = ["Batch", "EventSourceMapping", "QueueService", "matches", "parse_filters"]
