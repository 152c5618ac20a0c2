"""Batched training on the real FSDD recordings: member k of a batch is the single trial with the same spec.

The exact check runs in float64 against ``tests.trainers._single.single_run`` (``train_trial``'s steps in
float64): the binary weights of both paths must agree exactly. Against ``train_trial`` itself the float32
accuracies must agree within half a point on average over seeds.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from bnn_errors import InvalidInputError, TrainingDivergedError
from tests.trainers._single import binary_signs, single_run
from trainers.batched import BatchedAudioFC, TrialBatch, batch_key, check_batch, train_batch
from trainers.data import TaskData, TensorSplit, load_task_data
from trainers.layers import BinaryOptions
from trainers.models import AudioFC
from trainers.trial import EpochPoint, TrialResult, TrialSpec, train_trial

MAX_TRAIN = 160
BASE = TrialSpec(task="audio", epochs=2, batch_size=32, width=16, max_train=MAX_TRAIN, device="cpu")
HYPERPARAMETERS = {
    "filter": [{"alpha": 1e-3, "gamma": 0.1}, {"alpha": 3e-2, "gamma": 0.5}, {"alpha": 1e-2, "gamma": 1e-2}],
    "latent": [
        {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1},
        {"lr": 1.0, "momentum": 0.5, "weight_decay": 1e-3, "clip": 1.0},
        {"lr": 0.1, "momentum": 0.0, "weight_decay": 0.0},
    ],
    "bop": [{"threshold": 1e-6, "gamma": 1e-3}, {"threshold": 1e-5, "gamma": 1e-2}],
}
# The latent space tunes the layer options too: each member has its own.
LATENT_BINARY = [
    BinaryOptions(),
    BinaryOptions(init_scale=0.0, ste_clip=True),
    BinaryOptions(init_scale=0.5, scaling=True, ste_clip=True),
]


# Batched and single paths agree exactly only at one torch thread (the same reduction order).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def audio() -> TaskData:
    return load_task_data("audio", max_train=MAX_TRAIN)


def _specs(optimizer: str, **changes: object) -> list[TrialSpec]:
    if optimizer == "mixed":
        # runs of 2, 2, 1, 1, 1 members: latent, filter, latent, Bop and the frozen control
        latent, filter_ = _specs("latent", **changes), _specs("filter", **changes)
        frozen = dataclasses.replace(filter_[2], optimizer="frozen", hyperparameters={}, seed=20)
        return [*latent[:2], *filter_[:2], latent[2], _specs("bop", **changes)[0], frozen]
    specs = []
    for k, h in enumerate(HYPERPARAMETERS[optimizer]):
        binary = LATENT_BINARY[k] if optimizer == "latent" else BinaryOptions()
        spec = dataclasses.replace(BASE, optimizer=optimizer, hyperparameters=h, binary=binary, seed=10 + k)
        specs.append(dataclasses.replace(spec, **changes))  # type: ignore[arg-type]
    return specs


def _assert_member_is(batch: TrialBatch, k: int, single: nn.Module) -> None:
    model = batch.model
    assert isinstance(model, BatchedAudioFC) and isinstance(single, AudioFC)
    for name in ("fc2", "fc3", "fc4"):
        layer = getattr(single, name)
        got = binary_signs(getattr(model, name)[k].detach(), layer.tie_signs)
        assert torch.equal(got, binary_signs(layer.weight.detach(), layer.tie_signs)), f"member {k}, {name}"
    torch.testing.assert_close(model.fc1[k].detach(), single.fc1.weight.detach(), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(model.bn2.running_var[k], single.bn2.running_var, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("optimizer", ["filter", "latent", "bop", "mixed"])
def test_float64_members_end_with_the_single_paths_binary_weights(audio: TaskData, optimizer: str) -> None:
    specs = _specs(optimizer)
    batch = TrialBatch(specs, data=audio, dtype=torch.float64)
    results = batch.run()
    for k, spec in enumerate(specs):
        single, flip_ratios = single_run(spec, audio)
        _assert_member_is(batch, k, single)
        result = results[k]
        assert isinstance(result, TrialResult)
        assert [p.flip_ratio for p in result.points] == pytest.approx(flip_ratios, abs=1e-12)
    # the members did train, and differently
    assert len({r.final.train_loss for r in results if isinstance(r, TrialResult)}) == len(specs)


def test_a_mixed_batch_trains_each_member_as_a_batch_of_its_optimizer_alone(audio: TaskData) -> None:
    specs = _specs("mixed")
    assert len({batch_key(s) for s in specs}) == 1
    mixed = train_batch(specs, data=audio)
    for optimizer in ("latent", "filter", "bop", "frozen"):
        members = [k for k, s in enumerate(specs) if s.optimizer == optimizer]
        alone = train_batch([specs[k] for k in members], data=audio)
        for k, result in zip(members, alone, strict=True):
            got, want = mixed[k], result
            assert isinstance(got, TrialResult) and isinstance(want, TrialResult)
            strip = [dataclasses.replace(p, seconds=0.0) for p in got.points]
            assert strip == [dataclasses.replace(p, seconds=0.0) for p in want.points], f"member {k}"
    frozen = mixed[-1]
    assert isinstance(frozen, TrialResult) and [p.flip_ratio for p in frozen.points] == [0.0, 0.0]


def test_shared_order_gives_every_member_the_first_members_minibatches(audio: TaskData) -> None:
    specs = _specs("filter")[:2]
    batch = TrialBatch(specs, data=audio, shared_order=True, dtype=torch.float64)
    batch.run()
    for k, spec in enumerate(specs):
        single, _ = single_run(spec, audio, order_seed=specs[0].seed)
        _assert_member_is(batch, k, single)


def test_any_split_is_read_through_its_batches(audio: TaskData) -> None:
    train = audio.train
    assert isinstance(train, TensorSplit)
    # a normalizing split is not gathered directly: the feed reads it through Split.batches per member
    wrapped = dataclasses.replace(audio, train=TensorSplit(train.x, train.y, audio.num_classes, normalize=lambda x: x))
    specs = _specs("latent")
    direct = train_batch(specs, data=audio, dtype=torch.float64)
    through = train_batch(specs, data=wrapped, dtype=torch.float64)
    strip = [[dataclasses.replace(p, seconds=0.0) for p in r.points] for r in direct if isinstance(r, TrialResult)]
    assert strip == [
        [dataclasses.replace(p, seconds=0.0) for p in r.points] for r in through if isinstance(r, TrialResult)
    ]


@pytest.mark.parametrize("optimizer", ["filter", "latent"])
def test_float32_accuracy_matches_train_trial(audio: TaskData, optimizer: str) -> None:
    # Without scaling: a scaled layer's outputs are multiples of one real scale, batch norm maps the many
    # equal ones to exactly 0 or to +-1 ulp depending on the summation order, and sign() then differs: in
    # float32 the two paths part from the first step. The float64 test covers scaling.
    specs = [dataclasses.replace(s, width=32, epochs=2, binary=BinaryOptions()) for s in _specs(optimizer)]
    batched = train_batch(specs, data=audio)
    gaps_val, gaps_test = [], []
    for spec, result in zip(specs, batched, strict=True):
        single = train_trial(spec, data=audio)
        assert isinstance(result, TrialResult)
        gaps_val.append(result.final.val_accuracy - single.final.val_accuracy)
        gaps_test.append(result.final.test_accuracy - single.final.test_accuracy)
    assert abs(sum(gaps_val) / len(specs)) <= 0.005 and abs(sum(gaps_test) / len(specs)) <= 0.005


def test_a_diverged_member_fails_alone(audio: TaskData) -> None:
    good = _specs("latent")[:2]
    # 1 - lr * weight_decay = -1e38 multiplies the latent weights every step: infinite by the second step
    diverging = {"lr": 1e19, "momentum": 0.0, "weight_decay": 1e19}
    bad = dataclasses.replace(good[0], hyperparameters=diverging, seed=3)
    with pytest.raises(TrainingDivergedError):
        train_trial(dataclasses.replace(bad, epochs=1), data=audio)
    seen: list[tuple[int, EpochPoint]] = []
    results = train_batch([good[0], bad, good[1]], lambda k, p: seen.append((k, p)), data=audio)
    failure = results[1]
    assert isinstance(failure, TrainingDivergedError) and failure.epoch == 1
    assert [k for k, _ in seen] == [0, 2, 0, 2]
    # nothing of the diverged member reaches the others: they train exactly as in a batch without it
    alone = train_batch(good, data=audio)
    for with_bad, without in zip([results[0], results[2]], alone, strict=True):
        assert isinstance(with_bad, TrialResult) and isinstance(without, TrialResult)
        for p, q in zip(with_bad.points, without.points, strict=True):
            assert dataclasses.replace(p, seconds=0.0) == dataclasses.replace(q, seconds=0.0)


def test_on_epoch_sees_every_member_every_epoch(audio: TaskData) -> None:
    specs = _specs("bop", epochs=2)
    seen: list[tuple[int, int]] = []
    results = train_batch(specs, lambda k, p: seen.append((k, p.epoch)), data=audio)
    assert seen == [(0, 1), (1, 1), (0, 2), (1, 2)]
    for result in results:
        assert isinstance(result, TrialResult) and result.device == "cpu"
        assert [p.epoch for p in result.points] == [1, 2]
        for p in result.points:
            assert 0.0 <= p.val_accuracy <= 1.0 and 0.0 < p.flip_ratio <= 1.0 and math.isfinite(p.train_loss)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"width": 32}, "width"),
        ({"epochs": 3}, "epochs"),
        ({"batch_size": 16}, "batch_size"),
        ({"decay": "linear"}, "decay"),
        ({"real_lr": 0.01}, "real_lr"),
    ],
)
def test_members_must_share_the_batch_fields(change: dict[str, object], message: str) -> None:
    specs = _specs("filter")
    specs[2] = dataclasses.replace(specs[2], **change)  # type: ignore[arg-type]
    assert batch_key(specs[0]) != batch_key(specs[2])
    with pytest.raises(InvalidInputError, match=rf"{message}.*member 2"):
        check_batch(specs)


def test_rejects_what_cannot_be_batched(audio: TaskData) -> None:
    with pytest.raises(InvalidInputError, match="at least one"):
        train_batch([], data=audio)
    with pytest.raises(InvalidInputError, match="no batched model"):
        check_batch([dataclasses.replace(BASE, task="imagenet")])
    with pytest.raises(InvalidInputError, match="alpha"):
        train_batch([dataclasses.replace(BASE, hyperparameters={"alpha": 2.0, "gamma": 0.1})], data=audio)
    with pytest.raises(InvalidInputError, match="dtype"):
        train_batch(_specs("filter"), data=audio, dtype=torch.int64)


def test_model_matches_single_networks_forward_and_backward() -> None:
    """Logits and every gradient of each member equal its own AudioFC's, for member and shared minibatches."""
    # init scale 2: some latent weights lie beyond the clipping bound of 1
    options = [
        BinaryOptions(),
        BinaryOptions(ste_clip=True, init_scale=2.0),
        BinaryOptions(scaling=True, init_scale=2.0),
    ]
    singles = []
    for k, binary in enumerate(options):
        torch.manual_seed(k)
        singles.append(AudioFC(12, 5, 8, binary=binary).double())
    model = BatchedAudioFC(
        3,
        12,
        5,
        8,
        ste_clip=[o.ste_clip for o in options],
        scaling=[o.scaling for o in options],
        dtype=torch.float64,
    )
    for k, single in enumerate(singles):
        model.load_member(k, single)
    x = torch.randn(3, 6, 12, dtype=torch.float64)
    for inputs, per_member in ((x, list(x)), (x[0], [x[0]] * 3)):
        model.zero_grad(set_to_none=True)
        logits = model(inputs)
        (logits**2).sum().backward()
        for k, single in enumerate(singles):
            single.zero_grad(set_to_none=True)
            expected = single(per_member[k])
            (expected**2).sum().backward()
            torch.testing.assert_close(logits[k].t(), expected, rtol=1e-10, atol=1e-10)
            pairs = [(model.fc1, single.fc1.weight), (model.bn3.weight, single.bn3.weight)]
            pairs += [(getattr(model, name), getattr(single, name).weight) for name in ("fc2", "fc3", "fc4")]
            for batched_param, single_param in pairs:
                assert batched_param.grad is not None and single_param.grad is not None
                torch.testing.assert_close(batched_param.grad[k], single_param.grad, rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(model.bn1.running_mean[k], single.bn1.running_mean)
    with pytest.raises(InvalidInputError, match="expected inputs"):
        model(torch.randn(2, 6, 12, dtype=torch.float64))
    with pytest.raises(InvalidInputError, match="does not fit"):
        model.load_member(0, AudioFC(12, 5, 4))
