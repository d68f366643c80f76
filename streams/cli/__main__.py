"""``python -m streams.cli``: what the demo and the worker harness start."""

from streams.cli import main

main()
