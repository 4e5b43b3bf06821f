import numpy as np
import pytest

from pretrainlab.finetuning.batches import MixtureBatches


def test_batches_are_a_pure_function_of_seed_and_step():
    items = list(range(10))
    batches = MixtureBatches(items, batch_size=4, seed=3)
    fresh = MixtureBatches(items, batch_size=4, seed=3)  # a resumed run knows only the step
    assert [fresh(s) for s in (7, 2)] == [batches(7), batches(2)]
    assert MixtureBatches(items, batch_size=4, seed=4)(0) != batches(0)


def test_each_epoch_visits_every_item_once():
    items = list(range(10))
    batches = MixtureBatches(items, batch_size=5, seed=0)
    first, second = batches(0) + batches(1), batches(2) + batches(3)
    assert sorted(first) == items and sorted(second) == items and first != second
    assert batches.epochs_for(4) == 2.0


def test_ranks_split_the_global_batch():
    items = list(range(12))
    batches = MixtureBatches(items, batch_size=6, seed=1)
    whole = batches(5)
    parts = [batches(5, rank=r, world_size=3) for r in range(3)]
    assert sorted(sum(parts, [])) == sorted(whole)
    assert parts[1] == whole[1::3]


def test_empty_mixture_is_an_error():
    with pytest.raises(ValueError, match="no finetuning examples"):
        MixtureBatches([], batch_size=2, seed=0)
    assert isinstance(MixtureBatches([1], 2, 0).indices(0), np.ndarray)
