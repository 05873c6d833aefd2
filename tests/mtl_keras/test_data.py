import numpy as np

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


def test_mixed_dtypes_and_multi_dim_columns_keep_dtype_shape_and_alignment():
    arrays = {"i": np.arange(50, dtype=np.int64), "f": np.arange(50, dtype=np.float32) / 2,
              "j": np.arange(50, dtype=np.int64) * 3, "m": np.arange(100, dtype=np.float64).reshape(50, 2)}
    for shuffle in (False, True):
        batches = list(make_dataset(arrays, 8, shuffle=shuffle))
        assert [b["i"].shape[0] for b in batches] == [8] * 6 + [2]
        for b in batches:
            assert list(b) == ["i", "f", "j", "m"]
            assert (b["i"].dtype.name, b["f"].dtype.name, b["m"].dtype.name) == ("int64", "float32", "float64")
            i = b["i"].numpy()
            np.testing.assert_array_equal(b["j"].numpy(), i * 3)
            np.testing.assert_array_equal(b["f"].numpy(), i / 2)
            np.testing.assert_array_equal(b["m"].numpy(), np.stack([2 * i, 2 * i + 1], axis=1))
        assert sorted(np.concatenate([b["i"].numpy() for b in batches])) == list(range(50))
        assert int(make_dataset(arrays, 8, shuffle=shuffle).cardinality()) == 7
