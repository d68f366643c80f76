"""Run musicnn's own TF1 graph on log-mel patches (a child process of the port's test).

Usage: ``TF_USE_LEGACY_KERAS=1 python -m tests.models.musicnn_reference MODEL[,MODEL...] IN.npy
OUT.npz``; the outputs of each model are stored as ``MODEL/penultimate`` and ``MODEL/tags``.
Builds the graph with ``musicnn.models.define_model`` (the wheel's code, graph mode, inference)
and restores the shipped checkpoint; writes the penultimate layer (a VGG model's last pooled map,
flattened) and the tag probabilities.
"""

from __future__ import annotations

import sys

import numpy as np


def _run(model: str, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf
    from musicnn import models

    from models.musicnn import checkpoint_prefix

    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, patches.shape[1], patches.shape[2]])
        is_training = tf.compat.v1.placeholder(tf.bool)
        with tf.name_scope("model"):
            outputs = models.define_model(x, is_training, model, 50)
        last = outputs[-1]  # musicnn: (n, 200); VGG: its (n, 2, 1, 128) pool5, flattened
        logits, penultimate = outputs[0], tf.reshape(last, [tf.shape(last)[0], -1])
        with tf.compat.v1.Session() as sess:
            tf.compat.v1.train.Saver().restore(sess, checkpoint_prefix(model))
            return sess.run(
                [penultimate, tf.nn.sigmoid(logits)], feed_dict={x: patches, is_training: False}
            )


def main(model_names: str, patches_path: str, out_path: str) -> None:
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    patches = np.load(patches_path)
    outputs = {}
    for model in model_names.split(","):
        outputs[f"{model}/penultimate"], outputs[f"{model}/tags"] = _run(model, patches)
    np.savez(out_path, **outputs)


if __name__ == "__main__":
    main(*sys.argv[1:4])
