"""deep.data: real on-disk formats through the real loading code, the validation split, augmentation."""

import numpy as np
import pytest
import torch

from deep.data import BatchLoader, DatasetError, augment_crop_flip, load_split, to_input, validation_split
from fake_datasets import CIFAR_TEST_NPZ, write_cifar10, write_imagefolder, write_svhn


def test_cifar10_pickles_load_pixel_exact(tmp_path):
    written = write_cifar10(tmp_path)
    train = load_split("cifar10", True, tmp_path)
    test = load_split("cifar10", False, tmp_path)
    x, y = written["train"]
    assert train.x.shape == (200, 3, 32, 32) and train.x.dtype == torch.uint8
    np.testing.assert_array_equal(train.x.numpy().transpose(0, 2, 3, 1), x)  # CHW tensor of the HWC image
    np.testing.assert_array_equal(train.y.numpy(), y)
    np.testing.assert_array_equal(test.y.numpy(), written["test"][1])
    assert train.class_names[3] == "cat" and train.augment and not test.augment


@pytest.mark.skipif(not CIFAR_TEST_NPZ.exists(), reason="../shared/data is absent (a user's clone)")
def test_shared_cifar_subset_has_the_documented_labels(tmp_path):
    write_cifar10(tmp_path, n_per_batch=800, n_test=1000)
    test = load_split("cifar10", False, tmp_path)
    assert test.y[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]  # the official test order (SOURCE.md)
    assert torch.bincount(test.y).tolist() == [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]


def test_svhn_mat_loads_with_label_10_as_digit_0(tmp_path):
    written = write_svhn(tmp_path)
    train = load_split("svhn", True, tmp_path)
    x, digits = written["train"]
    np.testing.assert_array_equal(train.x.numpy().transpose(0, 2, 3, 1), x)
    np.testing.assert_array_equal(train.y.numpy(), digits)
    assert int(train.y.min()) == 0 and int(train.y.max()) == 9


def test_imagefolder_tree(tmp_path):
    write_imagefolder(tmp_path)
    train = load_split("imagefolder", True, tmp_path)
    assert train.x.shape == (12, 3, 32, 32) and train.class_names == ("cat", "dog", "ship")
    assert torch.bincount(train.y).tolist() == [4, 4, 4]


def test_digits_embedded_in_unit_range():
    train, test = load_split("digits", True), load_split("digits", False)
    assert len(train) + len(test) == 1797 and len(test) == 360
    x = to_input(train.x)
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0


@pytest.mark.parametrize(
    "name,setup,message",
    [
        ("cifar10", lambda p: None, "CIFAR-10 not found"),
        ("svhn", lambda p: None, "SVHN not found"),
        ("imagefolder", lambda p: None, "no train/ folder"),
        ("cifar10", lambda p: (p / "cifar-10-batches-py").mkdir() or
         [(p / "cifar-10-batches-py" / f).write_bytes(b"junk") for f in
          ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]],
         "is corrupt"),
        ("svhn", lambda p: (p / "train_32x32.mat").write_bytes(b"junk"), "is corrupt"),
    ],
)
def test_missing_or_corrupt_datasets_say_so(tmp_path, name, setup, message):
    setup(tmp_path)
    with pytest.raises(DatasetError, match=message):
        load_split(name, True, tmp_path)


def test_missing_dataset_message_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetError, match="--download"):
        load_split("cifar10", True, tmp_path)
    with pytest.raises(DatasetError, match="needs --data-dir"):
        load_split("svhn", True, None)


def test_validation_split_is_deterministic_stratified_and_disjoint():
    y = torch.arange(1000) % 10
    tr, va = validation_split(y, 30, seed=5)
    tr2, va2 = validation_split(y, 30, seed=5)
    assert torch.equal(va, va2) and torch.equal(tr, tr2)
    assert torch.bincount(y[va]).tolist() == [30] * 10
    assert len(set(tr.tolist()) & set(va.tolist())) == 0 and len(tr) + len(va) == 1000
    assert not torch.equal(validation_split(y, 30, seed=6)[1], va)
    with pytest.raises(DatasetError, match="cannot hold out 100"):
        validation_split(y, 100, seed=0)


def test_the_tail_split_holds_out_the_last_examples_of_each_class_as_the_authors_code():
    """data_loader.py:56-58 of hannxu123/fair_robust: per class, tmp_idx[4700:5000] of its 5,000 in file order."""
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (2000,), generator=g)
    tr, va = validation_split(y, 30, seed=5, rule="tail")
    want = sorted(i for c in range(10) for i in torch.nonzero(y == c).flatten().tolist()[-30:])
    assert va.tolist() == want and torch.equal(validation_split(y, 30, seed=99, rule="tail")[1], va)
    assert len(set(tr.tolist()) & set(va.tolist())) == 0 and len(tr) + len(va) == len(y)
    with pytest.raises(ValueError, match="val_split"):
        validation_split(y, 30, seed=5, rule="head")


def test_augment_is_a_shifted_window_or_its_mirror():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6) + 1
    out = augment_crop_flip(x, g, padding=2)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for n in range(2):
        windows = [padded[n, :, i:i + 6, j:j + 6] for i in range(5) for j in range(5)]
        candidates = windows + [w.flip(2) for w in windows]
        assert any(torch.equal(out[n], c) for c in candidates)


def test_loader_order_is_a_function_of_its_generator_state():
    data = load_split("digits", True)
    a = BatchLoader(data, 64, shuffle=True, seed=3)
    state = a.generator.get_state()
    first = [y.clone() for _, y in a]
    a.generator.set_state(state)
    again = [y.clone() for _, y in a]
    assert all(torch.equal(u, v) for u, v in zip(first, again))
    assert sum(len(y) for y in first) == len(data)
