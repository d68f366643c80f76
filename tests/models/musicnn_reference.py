"""Run musicnn's own TF1 graph on log-mel patches (a child process of the port's test).

Usage: ``TF_USE_LEGACY_KERAS=1 python -m tests.models.musicnn_reference MODEL IN.npy OUT.npz``.
Builds the graph with ``musicnn.models.define_model`` (the wheel's code, graph mode, inference)
and restores the shipped checkpoint; writes the penultimate layer and the tag probabilities.
"""

from __future__ import annotations

import sys

import numpy as np


def main(model: str, patches_path: str, out_path: str) -> None:
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    from musicnn import models

    from models.musicnn import checkpoint_prefix

    patches = np.load(patches_path)
    x = tf.compat.v1.placeholder(tf.float32, [None, patches.shape[1], patches.shape[2]])
    is_training = tf.compat.v1.placeholder(tf.bool)
    with tf.name_scope("model"):
        outputs = models.define_model(x, is_training, model, 50)
    logits, penultimate = outputs[0], outputs[-1]
    with tf.compat.v1.Session() as sess:
        tf.compat.v1.train.Saver().restore(sess, checkpoint_prefix(model))
        pen, tags = sess.run(
            [penultimate, tf.nn.sigmoid(logits)], feed_dict={x: patches, is_training: False}
        )
    np.savez(out_path, penultimate=pen, tags=tags)


if __name__ == "__main__":
    main(*sys.argv[1:4])
