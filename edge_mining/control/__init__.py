"""The controller: pure and synchronous, time passed in, no I/O, no asyncio.

It never imports from devices/, mqtt/ or service.py.
"""

from edge_mining.control.controller import Controller

__all__ = ["Controller"]
