"""Plot-ready learning curves of a study's trials, with a cache of the curves of trials that have ended.

A curve is ``{"epoch": [...], "val_accuracy": [...], "flip_ratio": [...]}``: one list per metric, aligned with
the epochs, ``None`` where an epoch lacks the metric. A page shows every trial of every study of a comparison,
and reading all their points on every poll would cost more than the rest of the page together; an ended
trial's points never change, so its curve is kept.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

from tuner.analysis.reports import points_by_epoch
from tuner.storage import TERMINAL_TRIAL_STATES, CurvePoint, Storage

__all__ = ["trial_curves"]

_CURVE_METRICS = ("val_accuracy", "flip_ratio")

_TrialKey = tuple[int, str | None, str | None]
_Curve = dict[str, list[Any]]


class _CurveCache:
    """Plot-ready curves of trials that have ended, per storage: they never change once a trial has ended.

    Points are written only while a trial runs, so a trial read as ended before its points are read has all of
    them. Keys hold the trial's start and end times too, so that a database emptied and refilled under the
    same storage (as tests do) cannot serve a stale curve. Least recently used entries go first.
    """

    def __init__(self, max_trials: int) -> None:
        self._max_trials = max_trials
        self._lock = threading.Lock()
        self._entries: weakref.WeakKeyDictionary[Storage, OrderedDict[_TrialKey, _Curve]] = weakref.WeakKeyDictionary()

    def get(self, storage: Storage, key: _TrialKey) -> _Curve | None:
        """The cached curve of the trial ``key`` in ``storage``, or None; marks it as recently used."""
        with self._lock:
            entries = self._entries.get(storage)
            if entries is None or key not in entries:
                return None
            entries.move_to_end(key)
            return entries[key]

    def put(self, storage: Storage, key: _TrialKey, curve: _Curve) -> None:
        """Keep ``curve`` for the trial ``key`` in ``storage``, dropping the least recently used beyond the limit."""
        with self._lock:
            entries = self._entries.setdefault(storage, OrderedDict())
            entries[key] = curve
            while len(entries) > self._max_trials:
                entries.popitem(last=False)


_CURVES = _CurveCache(max_trials=50_000)


def _curve(points: Iterable[CurvePoint]) -> _Curve:
    epochs = points_by_epoch(points)
    curve: _Curve = {"epoch": [point["epoch"] for point in epochs]}
    for metric in _CURVE_METRICS:
        curve[metric] = [point.get(metric) for point in epochs]
    return curve


def trial_curves(storage: Storage, study: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A study's trials as plot-ready rows: the epochs and, per metric, its values (None where missing).

    ``study`` is a :func:`~tuner.analysis.reports.study_view` without points, as JSON; ended trials come from the
    cache, a running trial is read on its own, and the study's curves are read in one query if an ended one is
    missing.
    """
    curves: dict[int, _Curve] = {}
    missing: list[tuple[int, _TrialKey]] = []
    for trial in study["trials"]:
        key: _TrialKey = (trial["id"], trial["started_at"], trial["finished_at"])
        if trial["state"] not in TERMINAL_TRIAL_STATES:
            curves[trial["id"]] = _curve(storage.curve(trial["id"]))
        elif (cached := _CURVES.get(storage, key)) is not None:
            curves[trial["id"]] = cached
        else:
            missing.append((trial["id"], key))
    if missing:
        stored = storage.curves(study["id"])
        for trial_id, key in missing:
            curves[trial_id] = _curve(stored.get(trial_id, []))
            _CURVES.put(storage, key, curves[trial_id])
    return [
        {
            "study_id": study["id"],
            "space": study["space"],
            "arm": study["arm"],
            "replicate": study["replicate"],
            "number": trial["number"],
            "state": trial["state"],
            "objective": trial["objective"],
            **curves[trial["id"]],
        }
        for trial in study["trials"]
    ]
