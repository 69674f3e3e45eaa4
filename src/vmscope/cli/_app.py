"""The typer application and its sub-apps; command modules register themselves on these."""

import typer

app = typer.Typer(
    name="vmscope",
    help="Startup latency, memory, isolation and scalability of VMs, microVMs, sandboxes and containers:"
    " measured live on this host and pooled from the literature.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
bench_app = typer.Typer(help="Live benchmarks on this host.", no_args_is_help=True)
guest_app = typer.Typer(help="Build and inspect the shared guest (kernel, initramfs, rootfs).", no_args_is_help=True)
results_app = typer.Typer(help="Stored live results.", no_args_is_help=True)
evidence_app = typer.Typer(help="The evidence base of published figures.", no_args_is_help=True)

app.add_typer(bench_app, name="bench")
app.add_typer(guest_app, name="guest")
app.add_typer(results_app, name="results")
app.add_typer(evidence_app, name="evidence")
