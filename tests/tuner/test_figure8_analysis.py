"""Figure 8's numbers and report from a small stored comparison whose answers can be worked out by hand."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from search_spaces import RangeParameter, get_space
from tuner.analysis.figure8 import (
    FROZEN_COLUMNS,
    TOLERANCES,
    FrozenRun,
    Verdict,
    mean_estimate,
    objective_epoch,
    sobol_trials,
    spread,
    study_result,
    summarize,
    validation_noise,
    verdict,
)
from tuner.analysis.figure8_report import report_markdown, verdict_sentence
from tuner.analysis.figure8_trials import trial_rows
from tuner.analysis.reports import AnalysisReport, SpaceDifferenceReport
from tuner.storage import Storage, StudyRecord
from tuner.study.config import ComparisonConfig

# Objectives per (space, replicate), in trial order; None: a failed trial.
OBJECTIVES: dict[tuple[str, int], list[float | None]] = {
    ("latent", 0): [0.50, 0.70, 0.60],
    ("latent", 1): [0.55, None, 0.65],
    ("filter", 0): [0.80, 0.75, 0.90],
    ("filter", 1): [0.85, 0.70, 0.60],
}
N_INITIAL = 2  # Sobol trials per study: the first two completed ones


def _point(space: str) -> dict[str, object]:
    """A valid point of ``space``: every range parameter at its lower bound, every choice at its first."""
    return {p.name: p.lower if isinstance(p, RangeParameter) else p.choices[0] for p in get_space(space).parameters}


def _play(storage: Storage, study: StudyRecord, objectives: Sequence[float | None]) -> None:
    """Run a study as the scheduler would. Epoch 1: val = objective - 0.1, test = objective - 0.05; epoch 2 (last,
    the objective's): val = objective, test = objective - 0.02."""
    storage.set_study_state(study.id, "running")
    for number, objective in enumerate(objectives):
        trial = storage.create_trial(study.id, number, _point(study.config.space))
        value = 0.3 if objective is None else objective
        storage.add_points(trial.id, 1, {"val_accuracy": value - 0.1, "test_accuracy": value - 0.05, "flip_ratio": 0.1})
        storage.add_points(trial.id, 2, {"val_accuracy": value, "test_accuracy": value - 0.02, "flip_ratio": 0.05})
        if objective is None:
            storage.finish_trial(trial.id, "failed", error="diverged\nTraceback (most recent call last): ...")
        else:
            storage.finish_trial(trial.id, "completed", objective=objective)
    storage.set_study_state(study.id, "completed")


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    with Storage(f"sqlite:///{tmp_path / 'x.db'}") as storage:
        storage.migrate()
        yield storage


@pytest.fixture
def comparison(storage: Storage) -> int:
    """A latent-vs-filter comparison, 2 replicates x 3 trials x 2 epochs, played with :data:`OBJECTIVES`."""
    record, studies = storage.create_comparison(
        ComparisonConfig(spaces=["latent", "filter"], replicates=2, n_trials=3, epochs=2)
    )
    for study in studies:
        assert study.replicate is not None
        _play(storage, study, OBJECTIVES[study.config.space, study.replicate])
    return record.id


def test_objective_epoch_is_the_last_or_the_best_validation_epoch() -> None:
    points = [{"epoch": 1, "val_accuracy": 0.9, "test_accuracy": 0.8}, {"epoch": 2, "val_accuracy": 0.7}]
    assert objective_epoch(points, "val_accuracy_last") == points[1]
    assert objective_epoch(points, "val_accuracy_best") == points[0]
    assert objective_epoch([], "val_accuracy_last") is None


def test_sobol_trials_are_the_first_completed_ones(storage: Storage, comparison: int) -> None:
    (latent_1,) = [s for s in storage.comparison_studies(comparison) if (s.config.space, s.replicate) == ("latent", 1)]
    trials = storage.trials(latent_1.id)
    # Trial 1 failed: Ax does not count it, so the second Sobol point is trial 2.
    assert [t.number for t in sobol_trials(trials, 3, N_INITIAL)] == [0, 2]
    assert [t.number for t in sobol_trials(trials, 1, N_INITIAL)] == [0]  # capped by the study's trials


def test_study_result_is_the_best_trial_and_its_test_accuracy(storage: Storage, comparison: int) -> None:
    results = {}
    for study in storage.comparison_studies(comparison):
        result = study_result(study, storage.trials(study.id), storage.curves(study.id), N_INITIAL)
        results[result.space, result.replicate] = result
    assert results["latent", 1].best_val == 0.65
    assert results["latent", 1].best_test == pytest.approx(0.63)  # its last epoch: objective - 0.02
    assert results["latent", 1].sobol_objectives == (0.55, 0.65)
    assert results["filter", 0].best_val == 0.90
    assert results["filter", 0].sobol_objectives == (0.80, 0.75)


def test_study_result_reads_test_accuracy_at_the_best_validation_epoch(storage: Storage) -> None:
    config = ComparisonConfig(spaces=["filter"], replicates=1, n_trials=1, epochs=2, objective="val_accuracy_best")
    _, (study,) = storage.create_comparison(config)
    storage.set_study_state(study.id, "running")
    trial = storage.create_trial(study.id, 0, _point("filter"))
    storage.add_points(trial.id, 1, {"val_accuracy": 0.8, "test_accuracy": 0.7})
    storage.add_points(trial.id, 2, {"val_accuracy": 0.6, "test_accuracy": 0.9})
    storage.finish_trial(trial.id, "completed", objective=0.8)
    result = study_result(study, storage.trials(study.id), storage.curves(study.id), N_INITIAL)
    assert (result.best_val, result.best_test) == (0.8, 0.7)


def test_mean_estimate_leaves_out_missing_values() -> None:
    estimate = mean_estimate([0.5, None, 0.7])
    assert estimate.n == 2 and estimate.mean == pytest.approx(0.6)
    assert estimate.lo is not None and estimate.hi is not None
    assert 0.5 <= estimate.lo <= 0.6 <= estimate.hi <= 0.7
    assert mean_estimate([0.8, 0.8]).to_dict() == {"mean": 0.8, "lo": 0.8, "hi": 0.8, "n": 2}
    assert mean_estimate([None]).to_dict() == {"mean": None, "lo": None, "hi": None, "n": 0}


def test_spread_is_count_mean_sample_std_and_range() -> None:
    result = spread([0.1, 0.2, 0.3])
    assert (result.n, result.min, result.max) == (3, 0.1, 0.3)
    assert result.mean == pytest.approx(0.2) and result.std == pytest.approx(0.1)
    assert spread([0.4]).std == 0.0
    assert spread([]).to_dict() == {"n": 0, "mean": None, "std": None, "min": None, "max": None}


def test_summarize_gives_every_number_of_the_report(storage: Storage, comparison: int) -> None:
    summary = summarize(storage, comparison, n_initial=N_INITIAL)
    latent, filter_ = summary.space("latent"), summary.space("filter")
    assert [s.name for s in summary.spaces] == ["latent", "filter"]
    assert latent.best_val.mean == pytest.approx((0.70 + 0.65) / 2)
    assert filter_.best_val.mean == pytest.approx((0.90 + 0.85) / 2)
    assert filter_.best_test.mean == pytest.approx((0.88 + 0.83) / 2)
    # Latent's Sobol points: 0.5, 0.7 and 0.55, 0.65; squared deviations from 0.6 sum to 0.025.
    assert latent.sobol_spread.n == 4 and latent.sobol_spread.mean == pytest.approx(0.6)
    assert latent.sobol_spread.std == pytest.approx(math.sqrt(0.025 / 3))
    assert (latent.sobol_spread.min, latent.sobol_spread.max) == (0.5, 0.7)
    # Best 0.90, so every tolerance's target is reached by filter replicate 0 at trial 3 and by nothing else: never
    # reaching counts as 3 + 1 trials.
    assert [row.tolerance for row in summary.sensitivity] == list(TOLERANCES)
    for row in summary.sensitivity:
        assert (row.space_a, row.space_b, row.n_reached_a, row.n_reached_b) == ("latent", "filter", 0, 1)
        assert (row.mean_trials_a, row.mean_trials_b, row.difference) == (4.0, 3.5, 0.5)
    assert summary.run_seconds is not None and summary.run_seconds >= 0
    assert summary.frozen.val.n == 0 and summary.frozen.runs == ()
    assert summary.view.analysis is not None and summary.view.analysis.best_objective == 0.90


def test_summary_dict_keeps_the_keys_of_summary_json(storage: Storage, comparison: int) -> None:
    frozen = [FrozenRun.from_mapping({"seed": str(s), **dict.fromkeys(FROZEN_COLUMNS, "0.25")}) for s in range(2)]
    data = json.loads(json.dumps(summarize(storage, comparison, n_initial=N_INITIAL, frozen=frozen).to_dict()))
    assert list(data) == ["view", "spaces", "sensitivity", "run_seconds", "frozen"]
    assert list(data["spaces"]) == ["latent", "filter"]
    assert list(data["spaces"]["latent"]) == ["best_val", "best_test", "per_replicate", "sobol_spread"]
    assert data["spaces"]["filter"]["per_replicate"] == [
        {"replicate": 0, "val": 0.90, "test": pytest.approx(0.88)},
        {"replicate": 1, "val": 0.85, "test": pytest.approx(0.83)},
    ]
    assert list(data["sensitivity"][0]) == [
        "tolerance",
        "target",
        "space_a",
        "space_b",
        "mean_trials_a",
        "mean_trials_b",
        "n_reached_a",
        "n_reached_b",
        "difference",
        "lo",
        "hi",
        "fraction_positive",
    ]
    assert data["frozen"]["runs"][1] == {"seed": 1, **dict.fromkeys(FROZEN_COLUMNS, 0.25)}
    assert data["frozen"]["val"] == {"n": 2, "mean": 0.25, "std": 0.0, "min": 0.25, "max": 0.25}
    assert data["view"]["n_trials"] == 3 and data["view"]["analysis"]["target"] == pytest.approx(0.89)


def test_trial_rows_carry_the_best_so_far_and_the_sobol_points(storage: Storage, comparison: int) -> None:
    rows = [r for r in trial_rows(storage, comparison, n_initial=N_INITIAL) if (r.space, r.replicate) == ("latent", 1)]
    assert [r.trial for r in rows] == [0, 1, 2]
    assert [r.state for r in rows] == ["completed", "failed", "completed"]
    assert [r.sobol for r in rows] == [True, False, True]
    assert [r.best_so_far for r in rows] == [0.55, 0.55, 0.65]
    assert [r.error for r in rows] == [None, "diverged", None]  # first line only
    assert rows[2].epochs_run == 2 and rows[2].val_accuracy_last == 0.65 and rows[2].flip_ratio_last == 0.05
    columns = list(rows[0].to_dict())
    assert columns[:4] == ["study_id", "space", "replicate", "trial"] and "parameters" not in columns
    assert {f"param_{p.name}" for p in get_space("latent").parameters} <= set(columns)


def _difference(mean: float, lo: float, hi: float) -> SpaceDifferenceReport:
    return SpaceDifferenceReport(space_a="latent", space_b="filter", mean=mean, lo=lo, hi=hi, fraction_positive=0.5)


def _analysis(difference: SpaceDifferenceReport | None) -> AnalysisReport:
    return AnalysisReport(
        best_objective=0.9, tolerance=0.01, target=0.89, confidence=0.95, n_boot=2000, spaces=[], difference=difference
    )


def test_verdict_reads_the_difference_interval() -> None:
    assert verdict(_difference(9.0, 6.0, 12.0)) is Verdict.YES
    assert verdict(_difference(3.0, 1.0, 5.0)) is Verdict.PARTLY
    assert verdict(_difference(-4.0, -6.0, -1.0)) is Verdict.OPPOSITE
    assert verdict(_difference(1.0, -2.0, 4.0)) is Verdict.NOT_SHOWN
    assert verdict(None) is Verdict.UNKNOWN
    flipped = SpaceDifferenceReport(space_a="filter", space_b="latent", mean=9.0, lo=6.0, hi=12.0, fraction_positive=1)
    assert verdict(flipped) is Verdict.NOT_SHOWN


def test_verdict_sentence_words_the_verdict() -> None:
    assert verdict_sentence(_analysis(_difference(9.0, 6.0, 12.0)), 25).startswith("Yes, on this run")
    assert "about as many as the paper's" in verdict_sentence(_analysis(_difference(9.0, 6.0, 12.0)), 25)
    assert verdict_sentence(_analysis(_difference(3.0, 1.0, 5.0)), 25).startswith("Partly")
    assert "fewer than the paper's" in verdict_sentence(_analysis(_difference(3.0, 1.0, 5.0)), 25)
    assert verdict_sentence(_analysis(_difference(-4.0, -6.0, -1.0)), 25).startswith("No, the opposite")
    undecided = verdict_sentence(_analysis(_difference(1.0, -2.0, 4.0)), 12)
    assert undecided.startswith("Not shown") and "cannot exceed 12" in undecided
    assert "cannot exceed" not in verdict_sentence(_analysis(_difference(1.0, -2.0, 4.0)), 25)
    assert verdict_sentence(_analysis(None), 25).startswith("No trials-to-target difference")


def test_validation_noise_is_the_binomial_standard_error() -> None:
    assert validation_noise(0.9) == pytest.approx(math.sqrt(0.9 * 0.1 / 300))


def test_report_words_the_summary(storage: Storage, comparison: int) -> None:
    summary = summarize(storage, comparison, n_initial=N_INITIAL)
    report = report_markdown(summary, {"seed": "0"})
    assert report.startswith("# Figure 8 on FSDD: latent-weight space against filter space (REDUCED run)\n")
    assert "- **seed**: 0" in report
    assert summary.view.analysis is not None
    assert verdict_sentence(summary.view.analysis, 3) in report
    assert "| latent | 67.5% [" in report and "| filter | 87.5% [" in report
    assert "the first 2 completed trials of every study are Sobol points" in report
    assert "| 0.010 | 89.0% | 4.0 (0) | 3.5 (1) | +0.5 [" in report
    assert "Not run (`--frozen-seeds 0`)." in report

    frozen = [FrozenRun(seed=s, **dict.fromkeys(FROZEN_COLUMNS, 0.3)) for s in range(2)]
    with_control = report_markdown(summarize(storage, comparison, n_initial=N_INITIAL, frozen=frozen), {})
    assert "2 seeds (0, 1)" in with_control and "The tuned nets are clearly above the frozen control" in with_control


def test_a_comparison_without_a_completed_trial_has_nothing_to_analyse(storage: Storage) -> None:
    record, studies = storage.create_comparison(
        ComparisonConfig(spaces=["latent", "filter"], replicates=1, n_trials=2, epochs=2)
    )
    for study in studies:
        _play(storage, study, [None, None])
    summary = summarize(storage, record.id, n_initial=N_INITIAL)
    assert summary.view.analysis is None and summary.sensitivity == ()
    assert summary.space("latent").best_val.n == 0 and summary.space("latent").sobol_spread.n == 0
    assert "No trial completed: nothing to analyse." in report_markdown(summary, {})


def test_paired_statistics_of_a_comparison_with_fixed_targets(storage: Storage) -> None:
    from tuner.analysis.figure8_paired import paired_figure8, paired_markdown

    record, studies = storage.create_comparison(
        ComparisonConfig(spaces=["latent", "filter"], replicates=2, n_trials=3, epochs=2, targets=[0.7, 0.85])
    )
    for study in studies:
        assert study.replicate is not None
        _play(storage, study, OBJECTIVES[study.config.space, study.replicate])
    summary = summarize(storage, record.id, n_initial=N_INITIAL)
    paired = paired_figure8(storage, record.id, [r for s in summary.spaces for r in s.studies], n_boot=500)
    data = paired.to_dict()
    assert data["arms"] == ["latent", "filter"] and data["targets"] == [0.7, 0.85]
    # Trials to 0.7: latent 2 and 4 (never: 3 + 1), filter 1 and 1 -> differences 1 and 3, mean 2.
    # Trials to 0.85: latent never twice (4, 4), filter 3 and 1 -> differences 1 and 3, mean 2.
    assert [(row["target"], row["mean"]) for row in data["paired_difference"]] == [(0.7, 2.0), (0.85, 2.0)]
    assert all(row["p_holm"] >= row["p"] for row in data["paired_difference"])
    # Horizontally at k = 3: filter's best after 3 trials is 0.90 and 0.85; latent never gets there: 4 - 3 = +1.
    assert data["horizontal"]["3"]["mean"] == 1.0
    # Each study's chosen configuration: test = val - 0.02 at the last epoch, so the optimism is 2 points.
    assert data["validation_test"]["filter"]["optimism_mean"] == pytest.approx(0.02)
    text = paired_markdown(paired)
    assert "### latent minus filter" in text and "| 70.00% | 2 | 1, 2 | +2.0 [+1.0, +3.0] |" in text
