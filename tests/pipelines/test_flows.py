"""The flows on the tiny pipeline: failure isolation, retries, the stage flow, and commit-and-push.
(One run per repository at a time: tests/pipelines/test_server.py.)"""

from __future__ import annotations

from prefect.artifacts import Artifact

import pipelines.study as study
from pipelines.publish import COMMIT_MESSAGE
from pipelines.repro import FAILED, RAN, SKIPPED, UP_TO_DATE, TransientStageError
from tests.pipelines.conftest import run, write_sleeps


def statuses(results) -> dict[str, str]:
    return {result.stage: result.status for result in results}


def summary_rows(key: str = "study-summary") -> dict[str, list[str]]:
    """stage -> [status, time, attempts, metrics, note] from the latest summary artifact."""
    markdown = Artifact.get(key).data
    rows = [line.strip("|").split("|") for line in markdown.splitlines() if line.startswith("| `")]
    return {cells[0].strip(" `"): [c.strip() for c in cells[1:]] for cells in rows}


def test_a_failed_cell_skips_only_its_downstream(tiny):
    (tiny / "fail-a").write_text("")
    state = study.study_flow(repo=str(tiny), max_parallel=2, return_state=True)
    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), study.StagesFailed)
    rows = summary_rows()
    assert {stage: row[0] for stage, row in rows.items()} == {
        "prepare": RAN,
        "cell@a": FAILED,
        "cell@b": RAN,
        "summary": SKIPPED,
    }
    assert rows["cell@a"][2] == "1", "a stage command that exits non-zero is not retried"
    assert "upstream failed: cell@a" in rows["summary"][4]
    assert (tiny / "cells" / "b.txt").exists()

    (tiny / "fail-a").unlink()
    results = study.study_flow(repo=str(tiny), max_parallel=2)
    assert statuses(results) == {"prepare": UP_TO_DATE, "cell@a": RAN, "cell@b": UP_TO_DATE, "summary": RAN}


def test_transient_failures_are_retried(tiny, monkeypatch):
    calls: list[str] = []
    real_repro = study.repro

    def flaky(repo, stage, **kwargs):
        calls.append(stage)
        if stage == "cell@b" and calls.count(stage) == 1:
            raise TransientStageError(stage, 1, "ERROR: 'prepared.txt' is busy, it is being blocked by: ...")
        return real_repro(repo, stage, **kwargs)

    monkeypatch.setattr(study, "repro", flaky)
    monkeypatch.setattr(study.repro_stage, "retry_delay_seconds", 0)
    results = {r.stage: r for r in study.study_flow(repo=str(tiny), max_parallel=2)}
    assert results["cell@b"].status == RAN and results["cell@b"].attempts == 2
    assert results["cell@a"].attempts == 1 and calls.count("cell@b") == 2


def test_stage_flow_runs_targets_and_stale_upstream(tiny):
    results = study.stage_flow(targets=["cell@a"], repo=str(tiny))
    assert statuses(results) == {"prepare": RAN, "cell@a": RAN}
    assert not (tiny / "cells" / "b.txt").exists()
    forced = study.stage_flow(targets=["cell@a"], repo=str(tiny), force=True)
    assert statuses(forced) == {"prepare": UP_TO_DATE, "cell@a": RAN}, "force reruns the target, not upstream"
    assert "cell@a" in summary_rows("stage-summary")


def test_commit_and_push_records_every_dvc_lock_and_fills_the_remote(tiny, tmp_path):
    """Both lock files, as in the study (dvc.lock and the inputs stage's inputs/dvc.lock)."""
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "local", str(remote)], tiny)
    run(["git", "config", "user.name", "t"], tiny)
    run(["git", "config", "user.email", "t@t"], tiny)
    (tiny / "inputs").mkdir()
    (tiny / "inputs" / "dvc.yaml").write_text(
        "stages:\n  listed:\n    wdir: ..\n    cmd: echo listed > listed.txt\n    outs: [listed.txt]\n"
    )
    run(["git", "add", "inputs/dvc.yaml"], tiny)
    run(["git", "commit", "-qm", "a second pipeline file"], tiny)
    study.study_flow(repo=str(tiny), commit_and_push=True)
    assert run(["git", "log", "-1", "--format=%s"], tiny).stdout.strip() == COMMIT_MESSAGE
    for lock in ("dvc.lock", "inputs/dvc.lock"):
        assert run(["git", "show", f"HEAD:{lock}"], tiny).stdout == (tiny / lock).read_text(), lock
    assert any(path.is_file() for path in remote.rglob("*")), "dvc push stored nothing"


def test_an_up_to_date_study_starts_no_dvc_process_per_stage(tiny, monkeypatch):
    study.study_flow(repo=str(tiny), max_parallel=2)
    calls: list[str] = []
    real_repro = study.repro

    def counted(repo, stage, **kwargs):
        calls.append(stage)
        return real_repro(repo, stage, **kwargs)

    monkeypatch.setattr(study, "repro", counted)
    results = study.study_flow(repo=str(tiny), max_parallel=2)
    assert set(statuses(results).values()) == {UP_TO_DATE} and calls == [], "one `dvc status` says it all"

    write_sleeps(tiny, a=0.01)  # cell@a's params changed: it and what reads its output ask DVC
    results = study.study_flow(repo=str(tiny), max_parallel=2)
    assert statuses(results) == {
        "prepare": UP_TO_DATE,
        "cell@a": RAN,
        "cell@b": UP_TO_DATE,
        "summary": UP_TO_DATE,
    }
    assert calls == ["cell@a"], "summary reads the same bytes: dvc status, asked again, says so"


def test_below_an_always_changed_stage_that_wrote_the_same_bytes_nothing_else_runs(tiny, monkeypatch):
    dvc_yaml = tiny / "dvc.yaml"
    dvc_yaml.write_text(
        dvc_yaml.read_text().replace("  prepare:\n", "  prepare:\n    always_changed: true\n")
    )
    study.study_flow(repo=str(tiny), max_parallel=2)
    calls: list[str] = []
    real_repro = study.repro
    monkeypatch.setattr(
        study, "repro", lambda repo, stage, **kw: calls.append(stage) or real_repro(repo, stage, **kw)
    )
    results = study.study_flow(repo=str(tiny), max_parallel=2)
    assert statuses(results) == {
        "prepare": RAN,
        "cell@a": UP_TO_DATE,
        "cell@b": UP_TO_DATE,
        "summary": UP_TO_DATE,
    }
    assert calls == ["prepare"], "dvc status, asked again after it ran, finds its downstream unchanged"
