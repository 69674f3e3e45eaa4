"""Claims on small fixtures, the synth command's JSON shape, and user claims files."""

import json
from pathlib import Path

import pytest
from helpers import record

from vmscope.cli import main
from vmscope.errors import UserError
from vmscope.synthesis import synthesize
from vmscope.synthesis.claims import Verdict, evaluate, parse_claims

FIXTURES = Path(__file__).parent / "fixtures" / "evidence"


@pytest.fixture
def make_record():  # type: ignore[no-untyped-def]
    return record


def _claims(*claims: dict) -> list:
    return parse_claims(json.dumps({"version": 1, "claims": list(claims)}), "test")


THRESHOLD = {
    "id": "fast",
    "kind": "threshold",
    "text": "microVMs start within 125 ms",
    "subject": {"platform_class": ["microvm"]},
    "families": ["vmm_start_to_guest_init"],
    "op": "<=",
    "value": 125,
    "unit": "ms",
}
COMPARE = {
    "id": "slower",
    "kind": "compare",
    "text": "traditional VMs boot slower than microVMs",
    "a": {"platform_class": ["traditional_vm"]},
    "b": {"platform_class": ["microvm"]},
    "families": ["vmm_start_to_guest_init"],
    "op": ">",
}


def test_threshold_supported_contradicted_mixed_insufficient(make_record) -> None:  # type: ignore[no-untyped-def]
    fast = [make_record(id="a", source={"key": "s1"}, value=0.1, unit="s")]
    slow = [make_record(id="b", source={"key": "s2"}, value=300)]
    (r,) = evaluate(_claims(THRESHOLD), fast)
    assert r.verdict is Verdict.supported and r.record_ids == ["a"]
    (r,) = evaluate(_claims(THRESHOLD), slow)
    assert r.verdict is Verdict.contradicted
    (r,) = evaluate(_claims(THRESHOLD), fast + slow)
    assert r.verdict is Verdict.mixed and r.record_ids == ["a", "b"]
    (r,) = evaluate(_claims(THRESHOLD), [make_record(platform_class="container", measure="container_start")])
    assert r.verdict is Verdict.insufficient and r.record_ids == []


def test_bounds_vote_only_when_decisive(make_record) -> None:  # type: ignore[no-untyped-def]
    below = make_record(id="u", statistic="upper_bound", value=100)
    above = make_record(id="v", statistic="upper_bound", value=200, source={"key": "s9"})
    (r,) = evaluate(_claims(THRESHOLD), [below, above])
    assert r.verdict is Verdict.supported and r.record_ids == ["u"]


def test_compare_within_study(make_record) -> None:  # type: ignore[no-untyped-def]
    recs = [
        make_record(id="q", platform="qemu-kvm", platform_class="traditional_vm", value=220),
        make_record(id="f", value=160),
        make_record(id="other", platform="qemu-kvm", platform_class="traditional_vm", value=50, source={"key": "x"}),
    ]
    (r,) = evaluate(_claims(COMPARE), recs)
    # only study "t" measured both sides; study "x" alone cannot vote
    assert r.verdict is Verdict.supported and r.record_ids == ["f", "q"]


def test_bad_claims_file_is_a_clear_error() -> None:
    with pytest.raises(UserError) as exc:
        parse_claims((FIXTURES / "bad_claims.json").read_text(), "bad_claims.json")
    text = str(exc.value)
    assert "unknown families ['no_such_family']" in text
    assert "unknown unit 'parsecs'" in text
    assert main(["synth", "--claims", str(FIXTURES / "bad_claims.json")]) == 1


def test_threshold_unit_must_fit_its_families() -> None:
    with pytest.raises(UserError, match="unit MiB is not a time unit, as family vmm_start_to_guest_init needs"):
        _claims(dict(THRESHOLD, unit="MiB"))


def test_synthesize_accepts_extra_live_records(make_record) -> None:  # type: ignore[no-untyped-def]
    live = make_record(
        id="live-1",
        kind="live",
        run_id="r1",
        accel="tcg",
        platform="qemu-microvm",
        measure="spawn_to_ready",
        value=3500,
        samples=[3400, 3500, 3600],
    )
    res = synthesize([], extra=[live], claims=[], draws=10)
    (row,) = res.table
    assert row.group == "microvm [tcg]" and row.family == "vmm_start_to_guest_init"
    assert row.studies[0].se_log is not None


def test_synth_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["synth", "--json", "--profile", "serverless"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"table", "claims", "rankings"}
    assert set(out["table"][0]) == {
        "group",
        "metric",
        "family",
        "estimate",
        "low",
        "high",
        "unit",
        "n_studies",
        "n_records",
    }
    assert set(out["claims"][0]) == {"id", "text", "verdict", "record_ids"}
    assert list(out["rankings"]) == ["serverless"]
    ids = {c["id"] for c in out["claims"]}
    assert {"microvm-start-under-125ms", "vm-fewer-host-syscalls-than-containers"} <= ids
    assert main(["synth", "--profile", "nope"]) == 1


def test_tcg_live_records_do_not_vote_on_claims() -> None:
    from vmscope.synthesis.claims import _eligible, load_claims
    from vmscope.synthesis.families import taxonomy

    claim = next(c for c in load_claims() if "slower" in c.text.lower())
    live = dict(kind="live", run_id="r", platform="qemu-q35", platform_class="traditional_vm",
                measure="spawn_to_ready", value=2000.0)
    tcg = record(id="l-1", accel="tcg", **live)
    kvm = record(id="l-2", accel="kvm", **live)
    claim = claim.model_copy(update={"include_live": True})
    ids = [r.id for r, _ in _eligible(claim, [tcg, kvm], taxonomy())]
    assert ids == ["l-2"]


def test_compare_across_studies_counts_no_answers_on_yes_no_families() -> None:
    claim = _claims({
        "id": "kernel",
        "kind": "compare",
        "text": "containers share the host kernel more often than microVMs",
        "a": {"platform_class": ["container"]},
        "b": {"platform_class": ["microvm"]},
        "families": ["shares_host_kernel"],
        "op": ">",
    })
    yes_no = dict(kind="live", metric="isolation", measure="shares_host_kernel", unit="bool", statistic="single")
    recs = [
        record(id="c", platform="runc", platform_class="container", value=1, run_id="r1", **yes_no),
        record(id="m", value=0, run_id="r2", **yes_no),
    ]
    (r,) = evaluate(claim, recs)
    assert r.verdict is Verdict.supported and r.record_ids == ["c", "m"]


def test_threshold_leaves_only_concurrent_startups_out() -> None:
    rate = _claims({
        "id": "rate",
        "kind": "threshold",
        "text": "one host launches at least 150 microVMs per second",
        "subject": {"platform": ["firecracker"]},
        "families": ["launch_rate"],
        "op": ">=",
        "value": 150,
        "unit": "per_s",
    })
    # a launch rate is measured with launches in flight at once: that is what it is about
    launches = record(id="lr", metric="scalability", measure="launch_rate", unit="per_s", statistic="single",
                      value=180, concurrency=8)
    (r,) = evaluate(rate, [launches])
    assert r.verdict is Verdict.supported and r.record_ids == ["lr"]
    # a startup latency under concurrent launches belongs to scalability, as in pooling
    (r,) = evaluate(_claims(THRESHOLD), [record(id="busy", value=300, concurrency=8)])
    assert r.verdict is Verdict.insufficient


def test_synthesize_without_rankings_pools_the_same_table() -> None:
    recs = [record(id="a", value=100), record(id="b", value=200, source={"key": "s2"})]
    full = synthesize(recs, claims=[], draws=10)
    table_only = synthesize(recs, claims=[], rank=False)
    assert table_only.rankings == {} and table_only.table == full.table


def test_synth_terminal_shows_evidence_text_as_written() -> None:
    import io

    from rich.console import Console

    from vmscope.cli.synth import render

    live = dict(kind="live", accel="tcg", platform="qemu-microvm", measure="spawn_to_ready", samples=[3400, 3600])
    recs = [record(id="l-1", run_id="r1", value=3500, **live), record(id="l-2", run_id="r2", value=3300, **live),
            record(id="p-1", platform="runc", platform_class="container", measure="container_start", value=300,
                   source={"key": "x[/]y"})]
    hostile = _claims(dict(THRESHOLD, text="fast [/] [bold]really[/bold]"))
    out = io.StringIO()
    render(synthesize(recs, claims=hostile, draws=10), Console(file=out, width=200))
    text = out.getvalue()
    assert "microvm [tcg]" in text  # a TCG group never loses its mark to rich markup
    assert "fast [/] [bold]really[/bold]" in text
