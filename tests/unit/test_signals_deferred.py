import signal

import pytest

from vmscope.platforms.util import signals_deferred


def test_ctrl_c_during_cleanup_is_delivered_after_it():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with signals_deferred():
            signal.raise_signal(signal.SIGINT)
            done.append("cleanup finished")
    assert done == ["cleanup finished"]


def test_handlers_are_restored():
    before = signal.getsignal(signal.SIGINT)
    with signals_deferred():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before
