from vmscope.measure.phases import kernel_points, phases_ms
from vmscope.platforms.console import Console

MS = 1_000_000


def test_kernel_start_is_the_earliest_consistent_estimate():
    c = Console()
    # the line stamped 0.100 s arrives at host 1000 ms -> kernel start at 900 ms;
    # a later line that arrived late (buffered) must not move the estimate later
    c._feed(b"[    0.100000] Linux version 6.1.0\n", 1000 * MS)
    c._feed(b"[    0.200000] something slow\n", 1300 * MS)
    c._feed(b"[    0.500000] Run /init as init process\n", 1450 * MS)
    c._feed(b"VMSCOPE-INIT uptime_s=0.55\n", 1460 * MS)
    pts = kernel_points(c)
    assert pts["kernel_start"] == 900 * MS
    assert pts["init_start"] == 1400 * MS


def test_no_printk_lines_means_no_kernel_points():
    c = Console()
    c._feed(b"VMSCOPE-INIT uptime_s=1\n", 5)
    assert kernel_points(c) == {}


def test_vm_and_container_phase_names():
    vm = phases_ms({"spawn": 0, "first_output": 100 * MS, "kernel_start": 300 * MS, "init_start": 900 * MS,
                    "ready": 1000 * MS, "exit": 1100 * MS})
    assert vm["vmm_firmware"] == 300 and vm["kernel"] == 600 and vm["init_to_ready"] == 100
    assert vm["spawn_to_ready"] == 1000 and vm["ready_to_exit"] == 100
    ct = phases_ms({"spawn": 0, "first_output": 5 * MS, "init_start": 5 * MS, "ready": 7 * MS})
    assert ct["runtime_setup"] == 5 and ct["init_to_ready"] == 2 and "kernel" not in ct
    assert "ready_to_exit" not in ct


def test_init_mark_stands_in_when_the_kernel_never_printed_run_init():
    from types import SimpleNamespace

    from vmscope.measure.phases import timing_points

    c = Console()
    c._feed(b"[    0.100000] Linux version 6.1.0\n", 1000 * MS)
    c._feed(b"VMSCOPE-INIT uptime_s=0.55\n", 1460 * MS)
    inst = SimpleNamespace(console=c, timings=lambda: {"spawn": 0, "ready": 1500 * MS, "exit": None})
    assert timing_points(inst) == {"spawn": 0, "kernel_start": 900 * MS, "init_start": 1460 * MS,
                                   "ready": 1500 * MS}


def test_a_failed_platform_is_dropped_but_progress_still_counts_its_slots(monkeypatch):
    from types import SimpleNamespace

    from vmscope.measure import startup
    from vmscope.platforms.base import LaunchError, Resources

    def launch(guest, resources):
        raise LaunchError("no such runtime")

    monkeypatch.setattr(startup, "get_driver", lambda p: SimpleNamespace(id=p, launch=launch))
    seen = []
    ok, failures = startup.measure_startup(["a", "b"], None, Resources(), trials=2, warmup=1,
                                           progress=lambda p, t: seen.append((p, t)))
    assert ok == [] and [(f.platform, f.trial) for f in failures] == [("a", -1), ("b", -1)]
    assert len(seen) == 6
