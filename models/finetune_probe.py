"""Does fine-tuning musicnn's back end on 3 s patches beat the served music head? A probe.

``python -m models.finetune_probe [--data DIR ...] [--variant finetune|frozen] [--cache DIR]``
(default data: ``../shared/data`` emopia and q4_dev; cache ``.moodstream/cache``) reads each
clip's 3 s patches as the served embedding does (at most 16, spread over the track), keeps what
musicnn's back end reads for each patch (:meth:`models.musicnn.Musicnn.back_end_inputs`, both
models, cached under ``CACHE/finetune-probe``), and cross-validates, on the same grouped folds
as ``moodstream evaluate music``, a network that:

- starts from the pretrained back end (batch norm, the 200-unit dense layer, batch norm) of
  both models; ``finetune`` trains the dense layers, ``frozen`` keeps them as published;
- pools the patches with learned attention (``softmax(v . tanh(W h))`` over the patches);
- joins the track's 62 segment statistics (as the champion does) and a softmax over the four
  emotions;
- trains on random crops (8 patches drawn per track per epoch) mixed up between tracks
  (mixup, Beta(0.4, 0.4)), with early stopping on 15 % of the training groups.

It prints pooled and per-corpus accuracy of that network, of the served champion's classifier
on the same folds, and of the two averaged. Its result (docs/music-model.md) decides whether it
joins the served candidates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.audio import load_audio
from models.musicnn import MUSICNN_MODELS, MUSICNN_SR, Musicnn, musicnn_log_mel, musicnn_patches
from models.probe_cli import accuracy_by_corpus, probe_data, probe_parser, write_accuracy

__all__ = ["CROP_PATCHES", "patch_inputs", "build_network", "cross_validate"]

#: Patches drawn per track per epoch in training.
CROP_PATCHES = 8
_EPOCHS, _PATIENCE, _BATCH, _MIXUP = 60, 10, 32, 0.4
_BACK_END = 1506


def patch_inputs(clips, hashes, cache_dir: Path, networks: list[Musicnn] | None = None):
    """Each clip's ``(patches, 2 * 1506)`` back-end inputs (float32, batch norm applied), cached
    as float16 under ``cache_dir/finetune-probe``; and the networks' back-end weights."""
    store = Path(cache_dir) / "finetune-probe"
    store.mkdir(parents=True, exist_ok=True)
    networks = networks or [Musicnn(m) for m in MUSICNN_MODELS]
    weights = [n.back_end_weights() for n in networks]
    out = []
    for clip, file_hash in zip(clips, hashes, strict=True):
        entry = store / f"{file_hash}.npy"
        if not entry.exists():
            patches = musicnn_patches(
                musicnn_log_mel(load_audio(clip.path, sr=MUSICNN_SR)), max_patches=16
            )
            values = np.hstack([n.back_end_inputs(patches) for n in networks])
            np.save(entry.with_suffix(".tmp.npy"), values.astype(np.float16))
            entry.with_suffix(".tmp.npy").replace(entry)
        raw = np.load(entry).astype(np.float32)
        out.append(
            np.hstack(
                [
                    raw[:, k * _BACK_END : (k + 1) * _BACK_END] * w["bn_in_scale"]
                    + w["bn_in_shift"]
                    for k, w in enumerate(weights)
                ]
            )
        )
    return out, weights


def build_network(weights: list[dict], *, trainable: bool, n_stats: int):
    """The probe's network (see the module docstring); inputs ``(patches, mask, statistics)``."""
    import keras
    from keras import ops

    from models.layers import AttentionPooling

    patches = keras.Input((None, _BACK_END * len(weights)))
    mask = keras.Input((None,))
    stats = keras.Input((n_stats,))
    encoded = []
    for k, w in enumerate(weights):
        dense = keras.layers.Dense(200, activation="relu", trainable=trainable)
        h = dense(patches[:, :, k * _BACK_END : (k + 1) * _BACK_END])
        dense.set_weights([w["dense_kernel"], w["dense_bias"]])
        encoded.append(h * w["bn_out_scale"] + w["bn_out_shift"])
    h = keras.layers.Dropout(0.3)(keras.layers.Concatenate()(encoded))
    pooled = AttentionPooling(64)(h, mask=ops.cast(mask, "bool"))
    z = keras.layers.Dropout(0.3)(keras.layers.Concatenate()([pooled, stats]))
    out = keras.layers.Dense(
        4, activation="softmax", kernel_regularizer=keras.regularizers.l2(1e-3)
    )(z)
    model = keras.Model([patches, mask, stats], out)
    model.compile(keras.optimizers.Adam(3e-4), "categorical_crossentropy")
    return model


def _padded(patch_sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    longest = max(p.shape[0] for p in patch_sets)
    x = np.zeros((len(patch_sets), longest, patch_sets[0].shape[1]), np.float32)
    mask = np.zeros((len(patch_sets), longest), np.float32)
    for i, p in enumerate(patch_sets):
        x[i, : len(p)], mask[i, : len(p)] = p, 1.0
    return x, mask


def _fit(model, patch_sets, stats, y, fit_rows, val_rows, rng) -> None:
    """Random crops + mixup, early stopping on ``val_rows``' accuracy (best weights kept)."""
    onehot = np.eye(4, dtype=np.float32)
    val_x, val_mask = _padded([patch_sets[i] for i in val_rows])
    best, best_weights, waited = -1.0, model.get_weights(), 0
    for _ in range(_EPOCHS):
        order = rng.permutation(fit_rows)
        for start in range(0, len(order), _BATCH):
            rows = order[start : start + _BATCH]
            crops = np.stack(
                [
                    patch_sets[i][
                        rng.choice(
                            len(patch_sets[i]),
                            CROP_PATCHES,
                            replace=len(patch_sets[i]) < CROP_PATCHES,
                        )
                    ]
                    for i in rows
                ]
            )
            lam = rng.beta(_MIXUP, _MIXUP, size=len(rows)).astype(np.float32)
            lam = np.maximum(lam, 1 - lam)
            other = rng.permutation(len(rows))

            def mix(a, lam=lam, other=other):
                shape = (-1,) + (1,) * (a.ndim - 1)
                return lam.reshape(shape) * a + (1 - lam.reshape(shape)) * a[other]

            model.train_on_batch(
                [mix(crops), np.ones((len(rows), CROP_PATCHES), np.float32), mix(stats[rows])],
                mix(onehot[y[rows]]),
            )
        predicted = model.predict([val_x, val_mask, stats[val_rows]], verbose=0, batch_size=64)
        accuracy = float(np.mean(predicted.argmax(axis=1) == y[val_rows]))
        if accuracy > best:
            best, best_weights, waited = accuracy, model.get_weights(), 0
        else:
            waited += 1
            if waited >= _PATIENCE:
                break
    model.set_weights(best_weights)


def cross_validate(
    data: list[Path], cache_dir: Path, variant: str, folds: int = 5, seed: int = 0
) -> dict:
    """Pooled and per-corpus grouped-CV accuracy of the probe's network (``variant``:
    ``finetune`` or ``frozen``), of the served champion's classifier, and of the two averaged
    (an ensemble of heads), on the folds of ``moodstream evaluate music``; ``seed`` offsets the
    network's seeds (the folds stay)."""
    import keras

    from models.evaluation import segment_statistics
    from models.music_candidates import fit_candidate
    from models.music_jobs import load_music_embeddings, load_music_set
    from models.splits import group_folds, validation_mask
    from schemas.emotions import EMOTIONS

    clips, matrices, hashes = load_music_set(cache_dir, data)
    patch_sets, weights = patch_inputs(clips, hashes, cache_dir)
    statistics = segment_statistics(matrices).astype(np.float32)
    champion_inputs = np.hstack([load_music_embeddings(cache_dir, clips, hashes), statistics])
    y = np.array([EMOTIONS.index(c.emotion) for c in clips])
    groups = np.array([c.group for c in clips])
    corpora = np.array([c.corpus for c in clips])
    probabilities = {name: np.zeros((len(y), 4)) for name in (variant, "champion", "ensemble")}
    for k, fold in enumerate(group_folds(y, groups, folds, 0)):
        keras.utils.set_random_seed(seed + k)
        rng = np.random.default_rng(seed + k)
        held = validation_mask(groups[fold.train], k)
        fit_rows, val_rows = fold.train[~held], fold.train[held]
        mean, std = statistics[fit_rows].mean(axis=0), statistics[fit_rows].std(axis=0) + 1e-6
        stats = (statistics - mean) / std
        model = build_network(weights, trainable=variant == "finetune", n_stats=stats.shape[1])
        _fit(model, patch_sets, stats, y, fit_rows, val_rows, rng)
        test_x, test_mask = _padded([patch_sets[i] for i in fold.test])
        network = model.predict([test_x, test_mask, stats[fold.test]], verbose=0, batch_size=64)
        champion = fit_candidate(
            champion_inputs[fold.train], y[fold.train], groups[fold.train], k
        ).predict_proba(champion_inputs[fold.test])
        probabilities[variant][fold.test] = network
        probabilities["champion"][fold.test] = champion
        probabilities["ensemble"][fold.test] = (network + champion) / 2
    return {
        name: accuracy_by_corpus(probs.argmax(axis=1) == y, corpora)
        for name, probs in probabilities.items()
    }


def main() -> None:
    """The command line (see the module's docstring)."""
    parser = probe_parser(__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=("finetune", "frozen"), default="finetune")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = cross_validate(probe_data(args), args.cache, args.variant, seed=args.seed)
    for name, accuracy in results.items():
        write_accuracy(f"{name} (seed {args.seed})", accuracy)


if __name__ == "__main__":
    main()
