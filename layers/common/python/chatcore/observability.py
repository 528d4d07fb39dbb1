"""Powertools' Logger, Tracer and Metrics, built once per container when a handler module is imported.

Every function imports these three objects from here, so logs, traces and metrics share one service name
("chat") and one namespace ("Chat"); ``POWERTOOLS_*`` variables override both. Outside Lambda the Tracer
switches itself off, and structured JSON logs go to standard output as Lambda expects.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="chat")
tracer = Tracer(service="chat")
metrics = Metrics(namespace="Chat", service="chat")

# An invocation with nothing to count (a refused connect, a 4xx) is normal here, not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

__all__ = ["logger", "metrics", "tracer"]
