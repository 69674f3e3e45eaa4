"""`vmscope doctor`: host fingerprint and, per platform, can it run here and if not why."""

from __future__ import annotations

import typer
from rich.table import Table

from vmscope import host
from vmscope.cli._app import app
from vmscope.cli.common import ensure_kvm_verdict, out, print_json
from vmscope.platforms import PLATFORMS, get_driver


def doctor_report() -> dict:
    ensure_kvm_verdict()
    rows = []
    for pid, info in PLATFORMS.items():
        avail = get_driver(pid).probe()
        row = {"id": pid, "class": info.platform_class.value, "usable": avail.usable, "reason": avail.reason,
               "version": avail.version}
        if avail.details:
            row["details"] = avail.details
        rows.append(row)
    from vmscope.platforms.accel import kvm_verdict, verdict_summary

    return {"host": {**host.fingerprint(), "kvm": verdict_summary(kvm_verdict())}, "platforms": rows}


@app.command("doctor")
def doctor_cmd(json_out: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """What this host can run: fingerprint, and each platform usable yes/no with the reason."""
    doc = doctor_report()
    if json_out:
        print_json(doc)
        return
    h = doc["host"]
    out.print(f"[bold]host[/] {h['hostname']}: {h['cpu_model']}, {h['cores']} cores, {h['mem_total_mib']} MiB, "
              f"kernel {h['kernel']}, {h['os']}, cgroups {h['cgroup_mode']}", highlight=False)
    tools = ", ".join(f"{k} {v.split()[-1] if v else '-'}" for k, v in h["tools"].items())
    out.print(f"[bold]tools[/] {tools}", highlight=False)
    out.print(f"[bold]kvm[/] {h['kvm']['status']}: {h['kvm'].get('reason', '')}", highlight=False)
    t = Table(title="platforms")
    for col in ("platform", "class", "usable", "version", "why / how"):
        t.add_column(col, overflow="fold")
    for r in doc["platforms"]:
        usable = "[green]yes[/]" if r["usable"] else "[red]no[/]"
        t.add_row(r["id"], r["class"], usable, r["version"] or "-", r["reason"])
    out.print(t)
