"""What training across several workers (MultiWorkerMirroredStrategy) needs.

Every worker runs the same `cnnrnn.training.train`; these helpers keep the
workers in step: the data shared out by example, batch normalisation over
the global batch, a check that they resume from the same epoch, and fixes
for Keras 3's TensorFlow trainer under a multi-worker strategy.
"""

import dataclasses

import keras

from cnnrnn import private_api
from cnnrnn.errors import CnnrnnError


def shard_by_example(splits):
    """`splits` with every dataset shared out across workers by example.

    Each worker runs the same seeded pipeline and keeps its part of every
    global batch. TensorFlow's default policy would first try to give each
    worker its own input files, which fails or unbalances in-memory,
    generator and few-file datasets.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    datasets = {
        name: getattr(splits, name).with_options(options)
        for name in ("train", "validation", "test")
        if getattr(splits, name) is not None
    }
    return dataclasses.replace(splits, **datasets)


def synchronize_batch_norm(model):
    """Makes every `BatchNormalization` layer use the global batch's statistics.

    Otherwise each worker normalises with (and averages into its moving
    statistics) its own part of the batch, and the workers end with
    different moving statistics.
    """
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.synchronized = True


def check_same_progress(strategy, fit):
    """Raises unless every worker resumes from the same point of the run.

    Workers stopped while saving at the end of an epoch can be one epoch
    apart; they would then run different steps and wait on each other.
    """
    import tensorflow as tf

    progress = [fit.epochs_done(), int(fit.phase_one_done.exists())]
    gathered = strategy.gather(strategy.run(lambda: tf.constant([progress])), axis=0)
    rows = {tuple(row) for row in gathered.numpy().tolist()}
    if len(rows) > 1:
        epochs = ", ".join(str(n) for n in sorted({row[0] for row in rows}))
        raise CnnrnnError(
            "The workers are at different points of this run (finished epochs: "
            f"{epochs}), e.g. after being stopped while saving: start again with "
            "--overwrite."
        )


def patch_keras():
    """Works around two bugs of Keras 3's TensorFlow trainer across workers.

    Seen with Keras 3.15 under `MultiWorkerMirroredStrategy` with 2+ workers,
    where `fit()` and `evaluate()` fail before their first step:

    - The first `(inputs, targets)` batch, a nest of per-replica values, is
      passed whole to `strategy.reduce()`, which takes a single value across
      workers ("Attempt to convert a value (PerReplica...)"). That batch only
      gives the shapes to build the metrics and optimizer with, so the local
      replica's batch is used instead.
    - Per-step logs are averaged with `strategy.reduce("MEAN", value,
      axis=0)`, which fails on scalars ("Invalid reduction dimension 0 for
      input with 0 dimensions", tensorflow/tensorflow#72388). They are
      averaged across replicas with `axis=None` instead. Epoch logs are exact
      either way: Keras reads them from the metrics, summed across workers.

    Both replacements defer to Keras outside multi-worker mode. Idempotent.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer

    private_api.check("keras", "The multi-worker trainer fix")

    if getattr(trainer, "_cnnrnn_multi_worker_fix", False):
        return
    in_multi_worker_mode = trainer._collective_all_reduce_multi_worker
    reduce_per_replica = trainer.reduce_per_replica
    maybe_symbolic_build = trainer.TensorFlowTrainer._maybe_symbolic_build

    def reduce_step_logs(values, strategy, reduction):
        if reduction == "auto" and in_multi_worker_mode(strategy):
            return tf.nest.map_structure(
                lambda value: strategy.reduce("MEAN", value, axis=None), values
            )
        return reduce_per_replica(values, strategy, reduction)

    def build_from_local_batch(model, iterator=None, data_batch=None):
        strategy = model._distribute_strategy
        if iterator is not None and in_multi_worker_mode(strategy):
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0],
                    next(batches),
                )
                break
            iterator = None
        return maybe_symbolic_build(model, iterator=iterator, data_batch=data_batch)

    trainer.reduce_per_replica = reduce_step_logs
    trainer.TensorFlowTrainer._maybe_symbolic_build = build_from_local_batch
    trainer._cnnrnn_multi_worker_fix = True
