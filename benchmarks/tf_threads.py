"""The benchmarks' figures are per core: TensorFlow pinned to one thread."""

from __future__ import annotations

__all__ = ["pin_tensorflow_to_one_thread"]


def pin_tensorflow_to_one_thread() -> bool:
    """Run TensorFlow's ops on one thread; True when done.

    False when TensorFlow has already run in this process with other pools (a test session that
    trained a model first): they are then fixed, and the figures are those of its defaults. A
    bench run from the command line starts fresh, so it is always pinned there.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # "cannot be modified after initialization"
        return False
    return True
