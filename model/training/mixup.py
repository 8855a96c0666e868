"""Mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization", arXiv:1710.09412):
train on convex blends of two faces, towards the same blend of their targets.

Why here: FER2013 teaches mostly strong, in-the-wild expressions, while posed photos (JAFFE, CFD,
Yale) show moderate ones that the shipped model reads as neutral. A face blended 70/30 with
another, with a 70/30 target, asks the network for graded probabilities between the two rather
than a confident jump; whether that carries over to real photos is measured in bench/RESULTS.md.
"""

from __future__ import annotations


def mixed_up(batches, alpha: float, seed: int):
    """Blend each training batch of a tf.data pipeline with a shuffled copy of itself.

    `batches`: a `tf.data.Dataset` of `(pixels (B, 48, 48, 1) float32, targets (B, C) float32)`
    with targets summing to 1. Each face i is paired with face perm(i) of its batch and mixed with
    its own weight lam_i ~ Beta(alpha, alpha), folded to lam_i >= 0.5 so that the face keeps its
    own label as the larger share (Keras' `class_weight` weighs a soft target by its argmax);
    pixels and targets get the same blend. Draws are stateless, from `seed` and the batch number,
    so a run repeats. Returns a dataset of the same structure.
    Raises ValueError for alpha <= 0 (no blend to draw).
    """
    import tensorflow as tf

    if not alpha > 0:
        raise ValueError(f"mixup alpha must be > 0, not {alpha}")
    # Three stateless seeds (two int64 each) per batch: two gamma draws and the pairing.
    seeds = tf.data.Dataset.random(seed=seed).batch(6)

    def blend(batch, draw):
        pixels, targets = batch
        pixels, targets = tf.cast(pixels, tf.float32), tf.cast(targets, tf.float32)
        n = tf.shape(pixels)[0]
        # Beta(a, a) as G1 / (G1 + G2) with G1, G2 ~ Gamma(a); both may underflow to 0 for small a.
        g1 = tf.random.stateless_gamma([n], seed=draw[0:2], alpha=alpha)
        g2 = tf.random.stateless_gamma([n], seed=draw[2:4], alpha=alpha)
        total = g1 + g2
        lam = tf.where(total > 0, g1 / tf.where(total > 0, total, 1.0), 1.0)
        lam = tf.maximum(lam, 1.0 - lam)
        partner = tf.argsort(tf.random.stateless_uniform([n], seed=draw[4:6]))
        mixed_pixels = lam[:, None, None, None] * pixels + (1 - lam[:, None, None, None]) * tf.gather(pixels, partner)
        mixed_targets = lam[:, None] * targets + (1 - lam[:, None]) * tf.gather(targets, partner)
        return mixed_pixels, mixed_targets

    return tf.data.Dataset.zip((batches, seeds)).map(blend, num_parallel_calls=tf.data.AUTOTUNE)
