"""The chat's logic, shared by every Lambda function as the common layer.

Layered so that the one rule that matters shows in the tree -- which code may touch PostgreSQL, AWS or
the network:

* the domain, at the top of the package: ``rows``, ``errors``, ``fields`` (values and limits), ``rules``
  (who may do what), ``protocol`` (the WebSocket frames), ``tokens``, ``passwords`` and ``ports`` (what the
  services need of the outside world); free of I/O;
* ``service/``: the use cases (connect, frames, fan-out, prune, accounts, rooms, ...), over the ports only;
* ``postgres/`` and ``aws/``: the adapters (psycopg; boto3/botocore and the Management API);
* ``http/``: the REST API, one Powertools router per area;
* ``settings`` and ``composition``: the functions' settings and the one place everything is wired.

The import contracts in ``pyproject.toml`` (run by the test suite) keep the domain and the services
free of psycopg, boto3, botocore and the adapters.
"""
