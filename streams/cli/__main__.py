"""``python -m streams.cli``: what the demo and the worker harness start."""

from streams.cli import main

if __name__ == "__main__":  # a spawned child (streams.clip_readers) imports this module too
    main()
