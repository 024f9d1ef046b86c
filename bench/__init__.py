"""Benchmarks of ChildPact Messenger: `python -m bench` runs them all, one after the other."""
