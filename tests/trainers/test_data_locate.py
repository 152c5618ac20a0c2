"""Finding data roots, the cache directory, and dispatching tasks by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bnn_errors import DataNotFoundError, InvalidInputError
from trainers.data import TASKS, cache_dir, find_data_root, load_task_data

pytestmark = pytest.mark.usefixtures("data_env")
MARKER = "fsdd/recordings"


def _root_with_marker(path: Path) -> Path:
    (path / MARKER).mkdir(parents=True)
    return path


def test_lookup_order_argument_env_cwd_data_then_shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = Path.cwd()
    arg = _root_with_marker(tmp_path / "arg")
    env = _root_with_marker(tmp_path / "env")
    local = _root_with_marker(cwd / "data")
    shared = _root_with_marker(cwd.parent / "shared" / "data")
    monkeypatch.setenv("BNN_TUNE_DATA", str(env))

    assert find_data_root(arg, marker=MARKER) == arg
    assert find_data_root(None, marker=MARKER) == env
    # An explicit argument is the only place looked at: a mistyped path is an error, not another root's data.
    with pytest.raises(DataNotFoundError, match="nothing-here"):
        find_data_root(tmp_path / "nothing-here", marker=MARKER)
    monkeypatch.delenv("BNN_TUNE_DATA")
    assert find_data_root(marker=MARKER).resolve() == local.resolve()
    (local / MARKER).rmdir()
    assert find_data_root(marker=MARKER).resolve() == shared.resolve()


def test_argument_accepts_str_and_expands_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    root = _root_with_marker(tmp_path / "mydata")
    assert find_data_root("~/mydata", marker=MARKER) == root
    assert find_data_root(str(root), marker=MARKER) == root


def test_missing_data_names_every_place_and_what_to_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNN_TUNE_DATA", str(tmp_path / "env-root"))
    with pytest.raises(DataNotFoundError) as info:
        find_data_root(tmp_path / "arg-root", marker=MARKER)
    assert str(tmp_path / "arg-root") in str(info.value) and "env-root" not in str(info.value)
    with pytest.raises(DataNotFoundError) as info:
        find_data_root(marker=MARKER)
    message = str(info.value)
    for place in (
        tmp_path / "env-root",
        Path.cwd() / "data",
        Path.cwd().parent / "shared",
    ):
        assert str(place) in message
    assert "BNN_TUNE_DATA" in message
    assert "https://github.com/Jakobovski/free-spoken-digit-dataset" in message
    assert "fsdd/recordings" in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("marker", "hint"),
    [("cifar10-jpg.tar.gz", "CIFAR-10"), ("imagenet/train", "ImageNet"), ("audiomnist/data", "AudioMNIST")],
)
def test_missing_data_hint_fits_the_data_set(marker: str, hint: str) -> None:
    with pytest.raises(DataNotFoundError, match=hint):
        find_data_root(marker=marker)


def test_cache_dir_from_env_created_on_demand(data_env: Path) -> None:
    assert not data_env.exists()
    assert cache_dir() == data_env
    assert data_env.is_dir()


def test_cache_dir_default_is_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BNN_TUNE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "bnn-tune"
    assert (tmp_path / ".cache" / "bnn-tune").is_dir()


def test_load_task_data_dispatches_by_name(fsdd_root: Path, cifar_archive_root: Path) -> None:
    audio = load_task_data("audio", fsdd_root, max_train=4)
    assert audio.description.startswith("FSDD") and len(audio.train) == 4
    with pytest.raises(InvalidInputError, match="val_size"):
        # The default validation size is larger than the tiny archive: proves the CIFAR loader ran.
        load_task_data("cifar10", cifar_archive_root)


def test_unknown_task_names_the_known_ones() -> None:
    with pytest.raises(InvalidInputError) as info:
        load_task_data("mnist")
    for task in TASKS:
        assert task in str(info.value)
