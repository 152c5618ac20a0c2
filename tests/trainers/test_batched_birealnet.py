"""K BiRealNet-20 trials as one grouped-convolution model, on the real CIFAR-10 JPEG archive.

Member k of a batch is the single trial with the same spec: in float64 it ends with the same binary weights
as ``train_trial``'s steps (``tests.trainers._single.single_run``); in float32 the accuracies agree with
``train_trial`` itself within half a point on average over seeds.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from torch import nn

from bnn_errors import InvalidInputError, TrainingDivergedError
from tests.trainers._single import binary_signs, single_run
from trainers.batched import BatchedAudioFC, BatchedBiRealNet20, MemberSetup, TrialBatch, train_batch
from trainers.data import TaskData, TensorSplit, load_task_data
from trainers.layers import BinaryConv2d, BinaryOptions
from trainers.models import AudioFC, BiRealNet20
from trainers.trial import TrialResult, TrialSpec, train_trial

MAX_TRAIN = 48
BASE = TrialSpec(task="cifar10", epochs=2, batch_size=16, max_train=MAX_TRAIN, device="cpu")
HYPERPARAMETERS = {
    "filter": [{"alpha": 1e-3, "gamma": 0.1}, {"alpha": 3e-2, "gamma": 0.5}],
    "latent": [
        {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1},
        {"lr": 1.0, "momentum": 0.5, "weight_decay": 1e-3, "clip": 1.0},
    ],
    "bop": [{"threshold": 1e-6, "gamma": 1e-3}, {"threshold": 1e-5, "gamma": 1e-2}],
}
# The latent space tunes the layer options too: each member has its own.
LATENT_BINARY = [BinaryOptions(), BinaryOptions(init_scale=0.5, ste_clip=True, scaling=True)]

# Batched and single paths agree exactly only at one torch thread (the same reduction order).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def cifar_full() -> TaskData:
    """48 training images (augmented as in training), 256 validation and 256 test images.

    Evaluation on all 15,000 held-out images would dominate a CPU test; with 256 one image is 0.4 points,
    finer than the half-point tolerance of the float32 test.
    """
    data = load_task_data("cifar10", max_train=MAX_TRAIN)
    assert isinstance(data.val, TensorSplit) and isinstance(data.test, TensorSplit)
    return dataclasses.replace(data, val=data.val.sample(256), test=data.test.sample(256))


@pytest.fixture(scope="module")
def cifar(cifar_full: TaskData) -> TaskData:
    """As ``cifar_full`` with 32 validation and test images: float64 convolutions are slow on CPU."""
    assert isinstance(cifar_full.val, TensorSplit) and isinstance(cifar_full.test, TensorSplit)
    return dataclasses.replace(cifar_full, val=cifar_full.val.sample(32), test=cifar_full.test.sample(32))


def _specs(optimizer: str) -> list[TrialSpec]:
    if optimizer == "mixed":
        # runs of one member each: latent, filter, Bop, latent (its own init scale, clipping and scaling)
        latent = _specs("latent")
        return [latent[0], _specs("filter")[0], _specs("bop")[0], latent[1]]
    return [
        dataclasses.replace(
            BASE,
            optimizer=optimizer,
            hyperparameters=h,
            binary=LATENT_BINARY[k] if optimizer == "latent" else BinaryOptions(),
            seed=10 + k,
        )
        for k, h in enumerate(HYPERPARAMETERS[optimizer])
    ]


def _binary_convs(model: nn.Module) -> list[BinaryConv2d]:
    return [m for m in model.modules() if isinstance(m, BinaryConv2d)]


@pytest.mark.parametrize("optimizer", ["filter", "latent", "bop", "mixed"])
def test_float64_members_end_with_the_single_paths_binary_weights(cifar: TaskData, optimizer: str) -> None:
    specs = _specs(optimizer)
    batch = TrialBatch(specs, data=cifar, dtype=torch.float64)
    results = batch.run()
    model = batch.model
    assert isinstance(model, BatchedBiRealNet20)
    for k, spec in enumerate(specs):
        single, flip_ratios = single_run(spec, cifar)
        convs = _binary_convs(single)
        assert len(convs) == len(model.binary_weights()) == 18
        for i, (conv, weights) in enumerate(zip(convs, model.binary_weights(), strict=True)):
            got = binary_signs(weights[k].detach(), conv.tie_signs)
            assert torch.equal(got, binary_signs(conv.weight.detach(), conv.tie_signs)), f"member {k}, conv {i}"
        assert isinstance(single, BiRealNet20)
        torch.testing.assert_close(model.classifier_weight[k].detach(), single.classifier.weight.detach())
        torch.testing.assert_close(model.stem_bn.running_var[k], single.stem[1].running_var)
        result = results[k]
        assert isinstance(result, TrialResult)
        assert [p.flip_ratio for p in result.points] == pytest.approx(flip_ratios, abs=1e-12)
    # the members did train, and differently
    assert len({r.final.train_loss for r in results if isinstance(r, TrialResult)}) == len(specs)


@pytest.mark.parametrize("optimizer", ["filter", "latent"])
def test_float32_accuracy_matches_train_trial(cifar_full: TaskData, optimizer: str) -> None:
    # Most members end bit-identical to their single trial; a few part by float32 rounding (grouped and
    # single convolutions sum in another order), and these near-chance networks then differ by a few images.
    pairs = [dataclasses.replace(s, binary=BinaryOptions(), epochs=1) for s in _specs(optimizer)]
    specs = [dataclasses.replace(s, seed=s.seed + 10 * i) for i in range(3) for s in pairs]
    batched = train_batch(specs, data=cifar_full)
    gaps = []
    for spec, result in zip(specs, batched, strict=True):
        single = train_trial(spec, data=cifar_full)
        assert isinstance(result, TrialResult)
        gaps += [
            result.final.val_accuracy - single.final.val_accuracy,
            result.final.test_accuracy - single.final.test_accuracy,
        ]
    assert abs(sum(gaps[0::2]) / len(specs)) <= 0.005 and abs(sum(gaps[1::2]) / len(specs)) <= 0.005


def test_a_diverged_member_fails_alone(cifar: TaskData) -> None:
    good, other = _specs("latent")
    # 1 - lr * weight_decay = -1e38 multiplies the latent weights every step: infinite by the second step
    bad = dataclasses.replace(good, hyperparameters={"lr": 1e19, "momentum": 0.0, "weight_decay": 1e19}, seed=3)
    results = train_batch([bad, good], data=cifar)
    assert isinstance(results[0], TrainingDivergedError) and results[0].epoch == 1
    # Grouped convolutions mix no members: the good one trains exactly as beside a healthy member (a batch
    # of the same size, so that the convolutions take the same algorithm and round alike).
    beside_healthy = train_batch([other, good], data=cifar)[1]
    assert isinstance(results[1], TrialResult) and isinstance(beside_healthy, TrialResult)
    strip = [dataclasses.replace(p, seconds=0.0) for p in beside_healthy.points]
    assert [dataclasses.replace(p, seconds=0.0) for p in results[1].points] == strip


def test_model_matches_single_networks_forward_and_backward() -> None:
    """Logits and gradients of each member equal its own BiRealNet20's, for member and shared minibatches."""
    # init scale 2: some latent weights lie beyond the clipping bound of 1
    options = [BinaryOptions(), BinaryOptions(ste_clip=True, init_scale=2.0), BinaryOptions(scaling=True)]
    singles = []
    for k, binary in enumerate(options):
        torch.manual_seed(k)
        singles.append(BiRealNet20(5, binary=binary).double())
    nets: list[Any] = singles  # their submodules, reached by name below
    setup = MemberSetup(
        ste_clip=tuple(o.ste_clip for o in options),
        scaling=tuple(o.scaling for o in options),
        sign_weights=False,
        device=torch.device("cpu"),
        dtype=torch.float64,
        sample_shape=(3, 12, 12),
    )
    model = BatchedBiRealNet20.like(singles[0], setup)
    for k, single in enumerate(singles):
        model.load_member(k, single)
    x = torch.randn(3, 4, 3, 12, 12, dtype=torch.float64)
    for inputs, per_member in ((x, list(x)), (x[0], [x[0]] * 3)):
        model.zero_grad(set_to_none=True)
        logits = model(inputs)
        (logits**2).sum().backward()  # type: ignore[no-untyped-call]
        for k, single in enumerate(nets):
            single.zero_grad(set_to_none=True)
            expected = single(per_member[k])
            (expected**2).sum().backward()  # type: ignore[no-untyped-call]
            torch.testing.assert_close(logits[k].t(), expected, rtol=1e-10, atol=1e-10)
            units: Any = model.units
            pairs = [
                (model.stem_weight, single.stem[0].weight),
                (units[6].weight, single.features[6].conv.weight),
                (units[6].shortcut_weight, single.features[6].shortcut[1].weight),
                (units[17].bn.weight, single.features[17].bn.weight),
                (model.classifier_bias, single.classifier.bias),
            ]
            pairs += [(w, conv.weight) for w, conv in zip(model.binary_weights(), _binary_convs(single), strict=True)]
            for batched_param, single_param in pairs:
                assert batched_param.grad is not None and single_param.grad is not None
                torch.testing.assert_close(batched_param.grad[k], single_param.grad, rtol=1e-10, atol=1e-10)
            torch.testing.assert_close(model.stem_bn.running_mean[k], single.stem[1].running_mean)


def test_model_rejects_what_does_not_fit() -> None:
    single = BiRealNet20(10)
    setup = MemberSetup((False, False), (False, False), True, torch.device("cpu"), torch.float32, (3, 32, 32))
    model = BatchedBiRealNet20.like(single, setup)
    with pytest.raises(InvalidInputError, match="expected inputs"):
        model(torch.randn(3, 4, 3, 32, 32))
    with pytest.raises(InvalidInputError, match="out of range"):
        model.load_member(2, single)
    with pytest.raises(InvalidInputError, match="BiRealNet20 of 10 classes"):
        model.load_member(0, BiRealNet20(5))
    with pytest.raises(InvalidInputError, match="expected a BiRealNet20"):
        BatchedBiRealNet20.like(AudioFC(4, 2, 3), setup)
    with pytest.raises(InvalidInputError, match="do not fit an AudioFC of 4 inputs"):
        BatchedAudioFC.like(AudioFC(4, 2, 3), setup)
    with pytest.raises(InvalidInputError, match="ste_clip needs one flag per member"):
        BatchedBiRealNet20(2, 10, (3, 32, 32), ste_clip=[True], scaling=[False] * 2)
    with pytest.raises(InvalidInputError, match=r"\(3, height, width\)"):
        BatchedBiRealNet20(2, 10, (1, 32, 32), ste_clip=[False] * 2, scaling=[False] * 2)
    with pytest.raises(InvalidInputError, match="num_classes must be >= 1, got 0"):
        BatchedBiRealNet20(2, 0, (3, 32, 32), ste_clip=[False] * 2, scaling=[False] * 2)
    with pytest.raises(InvalidInputError, match="width must be >= 1, got 0"):
        BatchedAudioFC(2, 4, 3, 0, ste_clip=[False] * 2, scaling=[False] * 2)
