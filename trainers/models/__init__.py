"""Binary networks of the paper's tasks: `AudioFC` (audio), `BiRealNet20` (CIFAR-10), `ReActNetA` (ImageNet).

Every model takes a `trainers.layers.BinaryOptions` and hands it to each of its binary layers; the first
layer and the classifier of the image models stay real-valued.
`build_model` picks the model of a task by name.
"""

from trainers.models._activations import RPReLU, RSign, approx_sign
from trainers.models._audio import AudioFC
from trainers.models._birealnet import BiRealNet20
from trainers.models._build import MODEL_TASKS, build_model
from trainers.models._reactnet import ReActNetA

__all__ = [
    "AudioFC",
    "BiRealNet20",
    "MODEL_TASKS",
    "RPReLU",
    "RSign",
    "ReActNetA",
    "approx_sign",
    "build_model",
]
