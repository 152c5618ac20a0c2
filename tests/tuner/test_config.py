"""One definition of a study: the configuration's checks, its schema in the API, and an option's way to the trial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bnn_errors import InvalidInputError
from tuner.execution.executor import InlineExecutor
from tuner.execution.scheduler import Scheduler
from tuner.execution.worker import TrialJob
from tuner.settings import Settings
from tuner.storage import Storage
from tuner.study.config import ComparisonConfig, StudyConfig, derive_seed, validate_config
from tuner.study.submit import submit_comparison, submit_study


@pytest.mark.parametrize(
    ("values", "loc"),
    [
        ({"n_trials": 0}, ("n_trials",)),
        ({"n_trials": "3"}, ("n_trials",)),
        ({"n_trials": 3, "parallelism": 4}, ("parallelism",)),
        ({"task": "mnist"}, ("task",)),
        ({"space": "adam"}, ("space",)),
        ({"real_lr": 0.0}, ("real_lr",)),
        ({"width": 0}, ("width",)),
        ({"early_stopping": {"rule": "median", "percentile": 25.0}}, ("early_stopping", "percentile")),
        ({"colour": "blue"}, ("colour",)),
    ],
)
def test_a_bad_value_is_named_by_its_location(values: dict[str, Any], loc: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as caught:
        StudyConfig.model_validate(values)
    assert caught.value.errors()[0]["loc"] == loc
    with pytest.raises(InvalidInputError) as named:
        validate_config(StudyConfig, values)
    assert named.value.field == ".".join(loc)


def test_comparison_spaces_are_known_and_distinct() -> None:
    for spaces in (["latent", "latent"], ["latent", "nope"], []):
        with pytest.raises(InvalidInputError) as caught:
            validate_config(ComparisonConfig, {"spaces": spaces})
        assert caught.value.field == "spaces"


def test_a_comparison_template_makes_its_replicate_studies() -> None:
    template = StudyConfig(n_trials=7, epochs=3, seed=11, width=16, real_lr=0.01)
    comparison = ComparisonConfig.of(template, ["latent", "filter"], 2)
    studies = comparison.studies()
    assert [(r, s.space) for r, s in studies] == [(0, "latent"), (1, "latent"), (0, "filter"), (1, "filter")]
    for replicate, study in studies:
        assert study.seed == derive_seed(11, replicate)
        assert study.model_dump(exclude={"space", "seed"}) == template.model_dump(exclude={"space", "seed"})


def test_the_rest_body_is_the_config(tmp_path: Path) -> None:
    from api.app import create_app

    schema = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"), run_scheduler=False).openapi()
    for path, model in (("/studies", StudyConfig), ("/comparisons", ComparisonConfig)):
        reference = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]
        expected = model.model_json_schema()
        assert body["properties"].keys() == expected["properties"].keys()
        for name, field in expected["properties"].items():
            assert body["properties"][name].get("default") == field.get("default"), name


class _RecordingExecutor(InlineExecutor):
    """The in-process executor, keeping every job it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[TrialJob] = []

    def submit(self, job: TrialJob) -> None:
        self.jobs.append(job)
        super().submit(job)


def test_width_and_real_lr_reach_every_trial(db: tuple[Storage, str]) -> None:
    storage, url = db
    config = StudyConfig(n_trials=1, epochs=1, max_train=200, width=16, real_lr=0.01)
    submit_study(storage, Settings(), config)
    submit_comparison(storage, Settings(), ComparisonConfig.of(config, ["latent", "filter"], 1))
    executor = _RecordingExecutor()
    Scheduler(storage, executor, database_url=url, poll_seconds=0.01).run(until_idle=True)
    assert len(executor.jobs) == 3
    assert {(job.spec.width, job.spec.real_lr) for job in executor.jobs} == {(16, 0.01)}
    assert {s.state for s in storage.list_studies()} == {"completed"}


def test_the_cli_flags_are_the_config(capsys: pytest.CaptureFixture[str]) -> None:
    from bnn_tune.cli import build_parser

    compare = build_parser().parse_args(["compare", "--width", "16", "--real-lr", "0.01", "--trials", "3"])
    flags = {name for name in vars(compare) if name in ComparisonConfig.model_fields}
    assert flags == {"width", "real_lr", "n_trials"}  # only what was given: the config keeps its own defaults
    with pytest.raises(SystemExit):
        build_parser().parse_args(["compare", "--help"])
    help_text = capsys.readouterr().out
    for name in ComparisonConfig.model_fields:
        assert ("--trials" if name == "n_trials" else "--" + name.replace("_", "-")) in help_text


def test_a_trial_of_several_members_stores_each_curve_and_their_mean(db: tuple[Storage, str]) -> None:
    from tuner.analysis.reports import study_view

    storage, url = db
    study = submit_study(storage, Settings(), StudyConfig(n_trials=2, epochs=2, max_train=300, folds=2, repeats=2))
    Scheduler(storage, InlineExecutor(), database_url=url, poll_seconds=0.01).run(until_idle=True)
    curves = storage.curves(study.id)
    for trial in storage.trials(study.id):
        points = curves[trial.id]
        assert {p.member for p in points} == {0, 1, 2, 3}
        last = [p.value for p in points if p.metric == "val_accuracy" and p.epoch == 2]
        assert trial.objective == pytest.approx(sum(last) / 4)
        assert trial.objective_sem is not None and trial.objective_sem >= 0
    report = study_view(storage, study.id)
    assert report.trials[0].points is not None
    assert report.trials[0].points[-1]["val_accuracy"] == pytest.approx(report.trials[0].objective)


def test_a_random_search_arm_runs_beside_the_bo_arms(db: tuple[Storage, str]) -> None:
    from tuner.analysis.reports import comparison_view

    storage, url = db
    config = ComparisonConfig(
        spaces=["filter"], random_spaces=["filter"], replicates=1, n_trials=6, epochs=1, max_train=200
    )
    comparison, studies = submit_comparison(storage, Settings(), config)
    assert sorted(s.config.arm for s in studies) == ["filter", "filter-random"]
    assert len({s.config.seed for s in studies}) == 1  # replicate 0 of every arm shares its seed
    Scheduler(storage, InlineExecutor(), database_url=url, poll_seconds=0.01).run(until_idle=True)
    report = comparison_view(storage, comparison.id)
    assert report.arms == ["filter", "filter-random"]
    assert report.analysis is not None and [s.name for s in report.analysis.spaces] == report.arms
    # The random arm's six points are Sobol's first six; BO's sixth is its own (Sobol for 5, then BoTorch).
    bo, random = sorted(studies, key=lambda s: s.config.strategy)
    bo_points = [t.parameters for t in storage.trials(bo.id)]
    random_points = [t.parameters for t in storage.trials(random.id)]
    assert bo_points[:5] == random_points[:5] and bo_points[5] != random_points[5]


def test_folds_need_a_task_that_has_them_and_early_stopping_one_member() -> None:
    for values, field in (
        ({"task": "cifar10", "folds": 2}, "folds"),
        ({"folds": 2, "early_stopping": {"rule": "median"}}, "repeats"),
    ):
        with pytest.raises(InvalidInputError) as caught:
            validate_config(StudyConfig, values)
        assert caught.value.field == field
