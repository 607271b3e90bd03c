"""paused_gc: the collector is off inside, restored (and what is alive frozen, if asked) after."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from service.engine.collector import paused_gc


@pytest.fixture
def restore_gc() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.unfreeze()
    if was:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.usefixtures("restore_gc")
@pytest.mark.parametrize("freeze", [True, False])
def test_paused_and_restored(freeze: bool) -> None:
    gc.enable()
    gc.unfreeze()
    with paused_gc(freeze=freeze):
        assert not gc.isenabled()
        with paused_gc(freeze=False):
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    assert (gc.get_freeze_count() > 0) is freeze


@pytest.mark.usefixtures("restore_gc")
def test_disabled_collector_stays_disabled() -> None:
    gc.disable()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("restore_gc")
def test_restored_after_an_error_and_a_freeze_asked_inside_is_kept() -> None:
    gc.enable()
    gc.unfreeze()

    def fail_inside() -> None:
        with paused_gc(freeze=False):
            with paused_gc():
                pass
            raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        fail_inside()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
