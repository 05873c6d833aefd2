import numpy as np

import mtl_keras  # noqa: F401
from mtl_keras.data import make_dataset


def epochs(dataset, count):
    return [[b["a"].numpy().tolist() for b in dataset] for _ in range(count)]


def test_unshuffled_batches_keep_order_and_the_partial_last_batch():
    (batches,) = epochs(make_dataset({"a": np.arange(10), "b": np.arange(10) * 2.0}, 4), 1)
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_shuffled_epochs_cover_every_row_once_reshuffle_and_repeat_by_seed():
    first, second = epochs(make_dataset({"a": np.arange(10)}, 4, shuffle=True, seed=3), 2)
    for epoch in (first, second):
        assert [len(b) for b in epoch] == [4, 4, 2]
        assert sorted(sum(epoch, [])) == list(range(10))
    assert first != second
    assert epochs(make_dataset({"a": np.arange(10)}, 4, shuffle=True, seed=3), 1)[0] == first


def test_columns_stay_aligned_after_shuffling():
    dataset = make_dataset({"a": np.arange(100), "b": np.arange(100) * 10}, 16, shuffle=True)
    for batch in dataset:
        np.testing.assert_array_equal(batch["b"].numpy(), batch["a"].numpy() * 10)
