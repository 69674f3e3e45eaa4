"""The isolation rubric: validation of rubric files, scales, and index computation."""

from __future__ import annotations

import copy
import json
from importlib import resources

import pytest

from vmscope.measure.rubric import RubricError, Scale, compute_index, load_rubric, parse_rubric, published
from vmscope.model import EvidenceKind, Metric, PlatformClass, Record, Source, Statistic

SRC = Source(key="test", authors="t", title="t", venue="t", year=2024, url="")


def default_doc() -> dict:
    text = resources.files("vmscope.measure").joinpath("data", "isolation_rubric.json").read_text()
    return json.loads(text)


def rec(platform: str, measure: str, value: float, unit: str = "count", i: int = 0) -> Record:
    return Record(id=f"r-{platform}-{measure}-{i}", source=SRC, platform=platform,
                  platform_class=PlatformClass.microvm, metric=Metric.isolation, measure=measure, value=value,
                  unit=unit, statistic=Statistic.single, kind=EvidenceKind.peer_reviewed)


def test_shipped_rubric_is_valid() -> None:
    r = load_rubric()
    assert abs(sum(c.weight for c in r.components) - 1) < 1e-9
    names = {c.name for c in r.components}
    assert {"shares_host_kernel", "host_syscalls_reachable", "tcb_lines_of_code", "memory_safe_language",
            "formally_verified", "escape_cve_reported"} <= names
    assert r.evidence_platforms["qemu-microvm"][0] == "qemu-microvm"


def _mutate(fn) -> dict:
    doc = default_doc()
    fn(doc)
    return doc


@pytest.mark.parametrize(("mutation", "message"), [
    (lambda d: d.update(rubric_version=9), "rubric_version"),
    (lambda d: d["components"]["tcb_lines_of_code"].update(weight=0.5), "sum to 1"),
    (lambda d: d["components"]["tcb_lines_of_code"].update(weight="heavy"), "weight must be a number"),
    (lambda d: d["components"]["tcb_lines_of_code"].update(source="rumour"), "source must be one of"),
    (lambda d: d["components"]["tcb_lines_of_code"].pop("measures"), "needs `measures`"),
    (lambda d: d["components"]["tcb_lines_of_code"]["score"].update(worst=10000), "best and worst must differ"),
    (lambda d: d["components"]["tcb_lines_of_code"]["score"].update(best=-1), "log scale"),
    (lambda d: d["components"]["shares_host_kernel"]["score"].update(type="cubic"), "type must be one of"),
    (lambda d: d["components"]["shares_host_kernel"]["score"].update(true=2), "within"),
    (lambda d: d["components"]["shares_host_kernel"].update(missing=-0.1), "within"),
    (lambda d: d["components"].update(vibes=d["components"].pop("formally_verified") | {"source": "measured"}),
     "measures no component"),
    (lambda d: d["components"]["emulated_device_count"].update(applies_to=["mainframe"]), "unknown platform class"),
    (lambda d: d["components"]["tcb_lines_of_code"].update(aggregate="mode"), "aggregate must be one of"),
    (lambda d: d.update(components={}), "non-empty"),
    (lambda d: d["assumed"].update(process={"memory_safe_language": 0}), "[value"),
])
def test_bad_rubrics_are_clear_errors(mutation, message) -> None:
    with pytest.raises(RubricError) as exc:
        parse_rubric(_mutate(mutation), "bad.json")
    assert message in str(exc.value) and "bad.json" in str(exc.value)


def test_rubric_file_errors(tmp_path) -> None:
    with pytest.raises(RubricError, match="cannot read"):
        load_rubric(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(RubricError, match="not valid JSON"):
        load_rubric(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(default_doc()))
    assert load_rubric(good).path == str(good)


def test_cli_rejects_a_bad_rubric_before_measuring(tmp_path, capsys) -> None:
    from vmscope.cli import main

    bad = tmp_path / "weights.json"
    bad.write_text(json.dumps(_mutate(lambda d: d["components"]["tcb_lines_of_code"].update(weight=0.9))))
    assert main(["bench", "isolation", "--platform", "process", "--rubric", str(bad),
                 "--db", str(tmp_path / "r.sqlite")]) == 1
    assert "sum to 1" in capsys.readouterr().err


@pytest.mark.parametrize(("scale", "raw", "expected"), [
    (Scale("bool", if_true=0.0, if_false=1.0), True, 0.0),
    (Scale("bool", if_true=0.0, if_false=1.0), False, 1.0),
    (Scale("linear", best=0, worst=400), 0, 1.0),
    (Scale("linear", best=0, worst=400), 100, 0.75),
    (Scale("linear", best=0, worst=400), 900, 0.0),  # clamped
    (Scale("linear", best=1, worst=0), 0.25, 0.25),  # higher is better
    (Scale("log", best=0, worst=99), 9, 0.5),  # log10(1 + x)
    (Scale("log", best=10000, worst=20000000), 10000, 1.0),
])
def test_scales(scale, raw, expected) -> None:
    assert scale.score(raw) == pytest.approx(expected, abs=1e-6)


def test_published_takes_the_first_platform_with_records() -> None:
    records = [rec("qemu-kvm", "tcb_lines_of_code", 1e6, "lines", 1), rec("qemu-kvm", "tcb_lines_of_code", 3e6,
                                                                           "lines", 2),
               rec("qemu-microvm", "emulated_device_count", 9)]
    assert published(records, ("qemu-microvm", "qemu-kvm"), ("tcb_lines_of_code",), "median") == \
        (2e6, ["r-qemu-kvm-tcb_lines_of_code-1", "r-qemu-kvm-tcb_lines_of_code-2"], "qemu-kvm")
    assert published(records, ("qemu-microvm",), ("emulated_device_count",), "max")[0] == 9
    assert published(records, ("firecracker",), ("tcb_lines_of_code",), "median") is None


MEASURED = {"shares_host_kernel": False, "host_syscalls_reachable": 0, "host_exposure": 0, "inside_privilege": 0.0,
            "outside_confinement": 0.0, "emulated_device_count": None}


def test_index_components_add_up_and_show_raw_values() -> None:
    rubric = load_rubric()
    records = [rec("qemu-kvm", "tcb_lines_of_code", 1e6, "lines"), rec("qemu-kvm", "vm_escape_cve_reported", 1, "bool")]
    index, comps = compute_index(rubric, "qemu-q35", "traditional_vm", MEASURED, records)
    assert 0 <= index <= 1
    assert index == pytest.approx(sum(c["contribution"] for c in comps.values()), abs=1e-4)
    sk = comps["shares_host_kernel"]
    assert (sk["raw"], sk["score"], sk["source"]) == (False, 1.0, "measured")
    assert comps["tcb_lines_of_code"]["raw"] == 1e6 and comps["tcb_lines_of_code"]["source"] == "published"
    assert comps["escape_cve_reported"]["score"] == 0.0
    assert comps["memory_safe_language"]["source"] == "assumed"  # QEMU is C (rubric assumption)
    assert comps["formally_verified"]["source"] == "missing" and comps["formally_verified"]["score"] == 0.0
    assert comps["emulated_device_count"]["source"] == "missing" and comps["emulated_device_count"]["score"] == 0.5


def test_not_applicable_components_are_renormalised() -> None:
    rubric = load_rubric()
    _, comps = compute_index(rubric, "runc", "container", MEASURED, [])
    dev = comps["emulated_device_count"]
    assert dev["source"] == "not_applicable" and dev["contribution"] == 0.0
    assert sum(c["effective_weight"] for c in comps.values()) == pytest.approx(1.0, abs=1e-5)


def test_weights_change_the_index_but_not_the_ordering_of_extremes() -> None:
    shared = MEASURED | {"shares_host_kernel": True, "host_syscalls_reachable": 340, "host_exposure": 4,
                         "inside_privilege": 1.0}
    for weights in ({}, {"shares_host_kernel": 0.05, "tcb_lines_of_code": 0.3}):
        doc = default_doc()
        for name, w in weights.items():
            doc["components"][name]["weight"] = w
        rubric = parse_rubric(doc)
        vm, _ = compute_index(rubric, "qemu-q35", "traditional_vm", MEASURED, [])
        proc, _ = compute_index(rubric, "process", "process", shared, [])
        assert vm > proc


def test_measured_or_published_prefers_the_measurement() -> None:
    rubric = load_rubric()
    records = [rec("qemu-microvm", "emulated_device_count", 9)]
    _, comps = compute_index(rubric, "qemu-microvm", "microvm", MEASURED | {"emulated_device_count": 10}, records)
    assert comps["emulated_device_count"]["raw"] == 10 and comps["emulated_device_count"]["source"] == "measured"
    _, comps = compute_index(rubric, "qemu-microvm", "microvm", MEASURED, records)
    assert comps["emulated_device_count"]["raw"] == 9 and comps["emulated_device_count"]["source"] == "published"


def test_rubric_swap_does_not_mutate_the_default() -> None:
    doc = default_doc()
    before = copy.deepcopy(doc)
    parse_rubric(doc)
    assert doc == before
