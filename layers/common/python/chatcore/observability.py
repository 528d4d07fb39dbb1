"""Logger, Tracer and Metrics for every function, from one place.

Powertools reads its settings (service name, log level, namespace) from ``POWERTOOLS_*`` variables when
these objects are first used, so importing this module does no I/O.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="chat")
tracer = Tracer(service="chat")
metrics = Metrics(namespace="Chat", service="chat")

__all__ = ["logger", "metrics", "tracer"]
