"""moodstream's audio features, networks, training, evaluation, registry and inference."""

import os

# TensorFlow's C++ INFO/WARNING chatter (CPU feature notices) is not for our users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
