"""The stage graph comes from DVC: order, upstream, selection of targets, and bad repositories."""

from __future__ import annotations

import pytest

from pipelines.dag import read_graph
from pretrainlab.errors import UserInputError
from tests.pipelines.conftest import make_tiny, run


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_tiny(tmp_path_factory.mktemp("dag") / "tiny")


def test_graph_is_dvcs_upstream_first(project):
    graph = read_graph(project)
    assert graph.order == ("prepare", "cell@a", "cell@b", "summary")
    assert graph.upstream == {
        "prepare": (),
        "cell@a": ("prepare",),
        "cell@b": ("prepare",),
        "summary": ("cell@a", "cell@b"),
    }


def test_graph_follows_dvc_yaml_edits(project, tmp_path):
    """No second declaration: a cell added to the foreach source shows up in the flow's graph."""
    copy = tmp_path / "copy"
    run(["cp", "-r", str(project), str(copy)], tmp_path)
    (copy / "tiny.yaml").write_text("cells: {a: {sleep: 0}, b: {sleep: 0}, c: {sleep: 0}}\n")
    graph = read_graph(copy)
    assert "cell@c" in graph.order and graph.upstream["cell@c"] == ("prepare",)


def test_select_takes_targets_and_their_upstream(project):
    graph = read_graph(project)
    assert graph.select(None) == graph.order
    assert graph.select(["cell@b"]) == ("prepare", "cell@b")
    assert graph.select(["cell"]) == ("prepare", "cell@a", "cell@b")  # a foreach group: all cells
    assert graph.named(["cell", "summary"]) == {"cell@a", "cell@b", "summary"}
    with pytest.raises(UserInputError, match="unknown target stage 'cell@z'.*cell@a"):
        graph.select(["cell@z"])


def test_a_stage_of_a_second_dvc_yaml_is_in_the_graph_and_named_without_its_file(project, tmp_path):
    """As the study's inputs stage (inputs/dvc.yaml): DVC's address, and selectable by its name."""
    copy = tmp_path / "copy"
    run(["cp", "-r", str(project), str(copy)], tmp_path)
    (copy / "inputs").mkdir()
    (copy / "inputs" / "dvc.yaml").write_text(
        "stages:\n  listed:\n    wdir: ..\n    cmd: echo l > listed.txt\n    outs: [listed.txt]\n"
    )
    dvc_yaml = copy / "dvc.yaml"
    dvc_yaml.write_text(
        dvc_yaml.read_text().replace(
            "    outs: [prepared.txt]", "    deps: [listed.txt]\n    outs: [prepared.txt]"
        )
    )
    graph = read_graph(copy)
    assert graph.order[:2] == ("inputs/dvc.yaml:listed", "prepare")
    assert graph.named(["listed"]) == {"inputs/dvc.yaml:listed"}
    assert graph.select(["cell@a"]) == ("inputs/dvc.yaml:listed", "prepare", "cell@a")


def test_bad_repositories_are_user_errors(tmp_path, project):
    with pytest.raises(UserInputError, match="not a DVC repository"):
        read_graph(tmp_path)
    with pytest.raises(UserInputError, match="no such directory"):
        read_graph(tmp_path / "missing")
    copy = tmp_path / "copy"
    run(["cp", "-r", str(project), str(copy)], tmp_path)
    (copy / "dvc.yaml").write_text("stages:\n  broken: [\n")
    with pytest.raises(UserInputError, match="dvc.yaml"):
        read_graph(copy)
    (copy / "dvc.yaml").write_text("stages:\n  x:\n    cmd: echo\n    deps: 3\n")
    with pytest.raises(UserInputError, match="dvc.yaml"):
        read_graph(copy)
    (copy / "dvc.yaml").unlink()
    with pytest.raises(UserInputError, match="dvc.yaml: missing"):
        read_graph(copy)
