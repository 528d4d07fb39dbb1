"""Baseline handlers for benchmark 3 (cold start), written the way the AWS samples write them.

Each module is one function, loaded as Lambda loads a handler (this folder on ``sys.path``, ``import
connect``) by ``bench/coldstart_child.py``: boto3 clients and the PostgreSQL connection at module scope,
``json.loads``, no validation, no Powertools. Each makes the same DynamoDB, SQL and Management API requests
as the function it stands beside for the same event (the benchmark shows both sides' requests), and its
docstring says what ours does beyond them.
"""
