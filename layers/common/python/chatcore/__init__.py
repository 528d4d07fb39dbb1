"""Shared logic of the serverless chat: protocol, stores, registry, broadcaster and the chat service.

Nothing here builds a client or reads the environment at import time; handlers build what they need
lazily (see :mod:`chatcore.runtime`) and cache it per warm container.
"""
