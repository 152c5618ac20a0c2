"""The data sets of the three tasks, read as splits of mini-batches.

- ``audio``: spoken digits (FSDD, or AudioMNIST as in the paper) as standardized 40x32 log-mel vectors;
- ``cifar10``: CIFAR-10 images with crop-and-flip augmentation;
- ``imagenet``: an ImageNet image folder, decoded per batch.

Data roots are found by :func:`find_data_root` (argument, ``$BNN_TUNE_DATA``, ``./data``, ``../shared/data``);
decoded images and features are cached under :func:`cache_dir` (``$BNN_TUNE_CACHE`` or ``~/.cache/bnn-tune``).
"""

from trainers.data._audio import load_audio
from trainers.data._cifar import load_cifar10
from trainers.data._imagenet import ImageFolderSplit, load_imagenet
from trainers.data._locate import cache_dir, find_data_root
from trainers.data._splits import Split, TaskData, TensorSplit
from trainers.data._tasks import TASKS, load_task_data

__all__ = [
    "ImageFolderSplit",
    "Split",
    "TASKS",
    "TaskData",
    "TensorSplit",
    "cache_dir",
    "find_data_root",
    "load_audio",
    "load_cifar10",
    "load_imagenet",
    "load_task_data",
]
