"""paused_gc: the collector is off inside, restored (and young objects frozen) after."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from service.ingest import paused_gc


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
