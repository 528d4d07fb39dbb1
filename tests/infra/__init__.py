"""Tests of the CDK app in infra/ (synthesis, assertions, cdk-nag, cfn-lint, the layer build)."""

import os

# Before jsii starts Node (on the first aws_cdk import): no end-of-life banner on stderr. And the layer
# build's `uv pip install` must never download a Python.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
