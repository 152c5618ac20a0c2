"""The paper's audio network: four fully connected layers, the last three binary."""

from __future__ import annotations

from torch import Tensor, nn

from trainers.layers import BinaryOptions, sign_ste
from trainers.models._common import DEFAULT_BINARY, binary_linear, check_positive

__all__ = ["AudioFC"]


class AudioFC(nn.Module):
    """Linear-BN, then three (sign, BinaryLinear, BN) layers; the last maps ``width`` to the class logits.

    The first layer stays real-valued, as usual for BNNs, because binarizing the raw features loses too much.
    Inputs of shape (N, ...) are flattened, so ``in_features`` is the product of the per-sample dimensions.

    Args:
        in_features: features per sample.
        num_classes: number of classes (outputs).
        width: units of the three hidden layers.
        binary: latent-weight hyperparameters of the binary layers.

    Raises:
        InvalidInputError: a size is not a positive integer.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int = 10,
        width: int = 64,
        *,
        binary: BinaryOptions = DEFAULT_BINARY,
    ) -> None:
        check_positive(in_features=in_features, num_classes=num_classes, width=width)
        super().__init__()
        # No biases: each layer is followed by a BatchNorm whose shift makes a bias redundant.
        self.fc1 = nn.Linear(in_features, width, bias=False)
        self.bn1 = nn.BatchNorm1d(width)
        self.fc2 = binary_linear(width, width, binary)
        self.bn2 = nn.BatchNorm1d(width)
        self.fc3 = binary_linear(width, width, binary)
        self.bn3 = nn.BatchNorm1d(width)
        self.fc4 = binary_linear(width, num_classes, binary)
        self.bn4 = nn.BatchNorm1d(num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) of features (N, ...) whose per-sample size is ``in_features``."""
        x = self.bn1(self.fc1(x.flatten(1)))
        x = self.bn2(self.fc2(sign_ste(x)))
        x = self.bn3(self.fc3(sign_ste(x)))
        return self.bn4(self.fc4(sign_ste(x)))  # type: ignore[no-any-return]
