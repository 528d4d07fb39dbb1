"""The WebSocket wire protocol: every frame a pydantic model, in the module of the functions that need it.

- :mod:`chatcore.protocol.client`: the frames a client sends, and their parser (the message function alone);
- :mod:`chatcore.protocol.server`: the frames the server sends, and the ``error`` frame;
- :mod:`chatcore.protocol.presence`: the ``presence`` frame, all that ``$connect``, ``$disconnect`` and the pruner
  send;
- :mod:`chatcore.protocol.base`: the base model of what the server sends, and its encoding.

A function imports only the frames it sends or parses: defining a frame model costs a cold start about 0.2 ms,
and ``$connect`` and ``$disconnect`` send one kind of the forty.
"""
