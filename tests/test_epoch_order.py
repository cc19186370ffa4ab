"""Training reshuffles every epoch (issue 13): observed on what the trainer loads, not by
searching its source for ``set_epoch``.

A ``DistributedSampler`` shuffles with ``seed + epoch``; without its ``set_epoch(epoch)``
call every epoch repeats epoch 0's order, which trains fine and fails nothing else. Here the
real training loop runs two epochs in this process and every item it loads is recorded.
"""

import os

import pytest

from fault_fixtures import drop_unknown_keys, micro_config, tone_corpus
from glow_tts.data_utils import TextMelLoader
from glow_tts.hparams import HParams, validate_config


@pytest.fixture
def loaded_items(monkeypatch):
    """(filelist, index) of every item TextMelLoader hands out, in order."""
    record = []
    original = TextMelLoader.__getitem__

    def recording(self, index):
        record.append((self.filelist, index))
        return original(self, index)

    monkeypatch.setattr(TextMelLoader, "__getitem__", recording)
    return record


@pytest.mark.slow
def test_each_epoch_visits_the_same_items_in_a_new_order(tmp_path, loaded_items):
    from glow_tts.train import train_and_eval

    filelists = tone_corpus(str(tmp_path / "corpus"))   # 8 training items
    # 2 batches of 4 per epoch; 4 steps = 2 epochs
    config = drop_unknown_keys(micro_config(filelists, train={"max_steps": 4, "batch_size": 4}))
    hps = HParams(**validate_config(config))
    hps.model_dir = str(tmp_path / "run")
    os.makedirs(hps.model_dir)
    train_and_eval(0, 1, hps)

    trained = [i for filelist, i in loaded_items if filelist == filelists["train"]]
    assert len(trained) == 16, trained
    epoch1, epoch2 = trained[:8], trained[8:]
    assert sorted(epoch1) == sorted(epoch2) == list(range(8))  # the same items ...
    assert epoch1 != epoch2                                    # ... in a new order
