"""The Trainer's input: transformed won impressions, read from the Transform output in whole blocks.

Each shard is read `PARSE_BLOCK` records at a time; shards are interleaved (in a seeded order,
reshuffled every pass, when shuffling); each block is parsed by one `tf.io.parse_example` and its
lost requests (won=0) dropped. Shuffling: parsed blocks pass a buffer of `SHUFFLE_BLOCKS`, are
re-cut (`Dataset.rebatch`) into windows of `SHUFFLE_WINDOW` batches and each window is permuted by
one gather; `rebatch` then cuts the training batches. No stage handles single rows (the former
record shuffle and `unbatch()` cost ~3x the CPU per row); each won row appears once per pass.

The pipeline's Trainer reads WinPropensity's `train_won` split (only won rows; the filter here
then keeps every row) and gets its row count from WinPropensity's counts (fn_args.hyperparameters,
see trainer.upstream_won_rows). Without that count, `count_won_rows` parses only the `won` column,
`COUNT_BLOCK` records at a time. `make_dataset` with `won_rows` asserts the exact number of batches,
which `training_strategies.count_batches` then reads for free and Keras needs for
`steps_per_execution` > 1.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Union

import tensorflow as tf

from mtl_keras import names
from mtl_keras.config import ModelConfig

PARSE_BLOCK = 8192  # records of one shard parsed per tf.io.parse_example call
SHUFFLE_BLOCKS = 16  # parsed blocks in the shuffle buffer (~131k records, the old buffer held 100k)
SHUFFLE_WINDOW = 16  # training batches per permuted window
COUNT_BLOCK = 65_536
CACHE_BYTES = 1 << 30  # parsed won rows up to this size stay in memory after the first pass
MAX_PARALLEL_FILES = 8


def match_files(file_patterns: Union[str, List[str]]) -> List[str]:
    """The files matching `file_patterns`, sorted; a ValueError when none do."""
    patterns = file_patterns if isinstance(file_patterns, (list, tuple)) else [file_patterns]
    files = sorted(tf.io.gfile.glob(list(patterns)))
    if not files:
        raise ValueError(f"No transformed example files match {file_patterns}; check fn_args.train_files "
                         "(the Transform output's transformed_examples split).")
    return files


def batches_for(won_rows: int, batch_size: int) -> int:
    """Training batches in one pass over `won_rows` rows (the last one may be short)."""
    return -(-int(won_rows) // int(batch_size))


def _record_blocks(files: List[str], block: int, shuffle: bool, seed: Optional[int]) -> tf.data.Dataset:
    """[<= block] serialized records of one shard at a time; shards interleaved, in a reshuffled
    order each pass when shuffling. Whole blocks cross threads, never single records."""
    compression = "GZIP" if files[0].endswith(".gz") else ""
    if len(files) == 1:
        return tf.data.TFRecordDataset(files, compression_type=compression).batch(block)
    paths = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        paths = paths.shuffle(len(files), seed=seed)
    return paths.interleave(lambda path: tf.data.TFRecordDataset(path, compression_type=compression).batch(block),
                            cycle_length=min(len(files), MAX_PARALLEL_FILES),
                            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _permuted(rows: Dict[str, tf.Tensor], key: tf.Tensor) -> Dict[str, tf.Tensor]:
    """The rows of a window in a random order drawn from `key` (one gather per column)."""
    n = tf.shape(next(iter(rows.values())))[0]
    order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([key, tf.constant(0, tf.int64)]))
    return {k: tf.gather(v, order) for k, v in rows.items()}


def column_spec(tft_output, config: ModelConfig) -> Dict[str, tf.io.FixedLenFeature]:
    """The transformed columns the model reads: its features, the labels, `won` and (with win
    weighting) p_win; a ValueError names any the Transform output lacks."""
    spec = tft_output.transformed_feature_spec()
    columns = config.features.names + [names.CLICK, names.CONVERSION, names.WON]
    if config.win_weighting:
        columns.append(config.p_win_column)
    missing = [c for c in columns if c not in spec]
    if missing:
        raise ValueError(f"Columns {missing} are not in the Transform output (it has {sorted(spec)}); "
                         "check the FeatureSpec and the data.")
    return {c: spec[c] for c in columns}


def won_rows_parser(spec: Dict[str, tf.io.FixedLenFeature], config: ModelConfig):
    """records [n] -> the won rows of the block as [m] columns (labels and p_win as float32)."""
    labels = {names.CLICK, names.CONVERSION, names.WON, config.p_win_column}

    def parse(records):
        parsed = tf.io.parse_example(records, spec)
        flat = {k: tf.reshape(v, [-1]) for k, v in parsed.items()}
        won = tf.equal(tf.cast(flat[names.WON], tf.int64), 1)
        return {k: tf.cast(tf.boolean_mask(v, won), tf.float32) if k in labels else tf.boolean_mask(v, won)
                for k, v in flat.items()}

    return parse


def make_dataset(file_patterns: Union[str, List[str]], tft_output, config: ModelConfig, shuffle: bool,
                 batch_size: Optional[int] = None, seeded: bool = True, won_rows: Optional[int] = None,
                 parse_block: int = PARSE_BLOCK, cache_bytes: int = CACHE_BYTES) -> tf.data.Dataset:
    """One pass of batches of transformed won impressions: features, labels and p_win as [batch].

    Shuffles (file order, blocks, windows) are seeded with `config.seed`; `seeded=False` takes the
    graph-level seed. `won_rows` (from `count_won_rows`) fixes the dataset's cardinality; a
    mismatch fails at the end of the pass. `parse_block`: records per parsed (and shuffled) block.
    When shuffling and `won_rows` parsed rows take at most `cache_bytes`, the parsed blocks are
    kept in memory after the first pass (later passes reshuffle blocks and windows but read, inflate
    and parse nothing): one GZIP shard is inflated by one thread, which training starves.
    """
    files = match_files(file_patterns)
    spec = column_spec(tft_output, config)
    parse = won_rows_parser(spec, config)
    batch_size = batch_size or config.batch_size
    seed = config.seed if seeded else None
    dataset = _record_blocks(files, parse_block, shuffle, seed)
    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if shuffle and won_rows is not None and won_rows * 8 * len(spec) <= cache_bytes:  # <= 8 bytes per value
        dataset = dataset.cache()
    if shuffle:
        # Parsed blocks in a shuffle buffer, re-cut into windows of SHUFFLE_WINDOW batches, each
        # window permuted row by row in one gather: a shuffle of windows of rows, not of single elements.
        dataset = dataset.shuffle(SHUFFLE_BLOCKS, seed=seed).rebatch(SHUFFLE_WINDOW * batch_size)
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        dataset = tf.data.Dataset.zip(dataset, keys).map(_permuted, num_parallel_calls=tf.data.AUTOTUNE,
                                                          deterministic=True)
    # rebatch slices and concatenates whole blocks: unbatch().batch(n) without per-row elements;
    # windows hold whole batches, so only the pass's last batch is short.
    dataset = dataset.rebatch(batch_size)
    if won_rows is not None:
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches_for(won_rows, batch_size)))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def count_won_rows(file_patterns: Union[str, List[str]], tft_output) -> int:
    """Won rows in the files: one read parsing only the `won` column, `COUNT_BLOCK` records at a time."""
    files = match_files(file_patterns)
    spec = tft_output.transformed_feature_spec()
    if names.WON not in spec:
        raise ValueError(f"Column {names.WON!r} is not in the Transform output (it has {sorted(spec)}); "
                         "the Trainer keeps won requests only, so the transformed examples must carry it.")
    won_spec = {names.WON: spec[names.WON]}

    def won_in(records):
        won = tf.io.parse_example(records, won_spec)[names.WON]
        return tf.reduce_sum(tf.cast(tf.equal(tf.cast(won, tf.int64), 1), tf.int64))

    counts = _record_blocks(files, COUNT_BLOCK, shuffle=False, seed=None).map(
        won_in, num_parallel_calls=tf.data.AUTOTUNE)
    return int(counts.reduce(tf.constant(0, tf.int64), lambda total, n: total + n))
