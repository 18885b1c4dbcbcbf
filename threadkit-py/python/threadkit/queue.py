"""The ``queue`` module's names, backed by threadkit: ``import threadkit.queue as queue``."""

from . import Empty, Full, LifoQueue, PriorityQueue, Queue, ShutDown, SimpleQueue

__all__ = ["Empty", "Full", "LifoQueue", "PriorityQueue", "Queue", "ShutDown", "SimpleQueue"]
