"""A real HTTP server on loopback that plays a partner: records what arrives, answers as told. The
receiver is the benchmarks' own (``bench/harness.py``), so tests and benches meet partners alike."""

from bench.harness import Receiver, free_port, partner, receiver_app, running

__all__ = ["Receiver", "free_port", "partner", "receiver_app", "running"]
