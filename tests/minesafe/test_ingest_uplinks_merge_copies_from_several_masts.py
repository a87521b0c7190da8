"""One frame heard by several masts counts once, each mast's link quality kept; the loudest mast is where a
downlink goes."""

from __future__ import annotations

from tocsin.minesafe.ingest.uplinks import IngestError, Uplink, UplinkMerger

FRAME = bytes.fromhex("0a1b2c3d4e")


def heard(gateway: str, rssi: float | None, snr: float | None = None, payload: bytes = FRAME) -> Uplink:
    return Uplink(gateway=gateway, payload=payload, received=100.0, rssi=rssi, snr=snr)


def test_the_first_hearing_passes_and_copies_add_their_link():
    merger = UplinkMerger(window_s=2.0)
    assert merger.add(heard("aa" * 8, -90, 5.0), now=100.0) is True
    assert merger.add(heard("bb" * 8, -70, 9.0), now=100.3) is False
    assert merger.add(heard("cc" * 8, None), now=100.5) is False
    assert [link.gateway for link in merger.links(FRAME)] == ["aa" * 8, "bb" * 8, "cc" * 8]
    assert merger.best_gateway(FRAME) == "bb" * 8
    assert merger.copies == 2


def test_the_same_bytes_after_the_window_are_a_new_report():
    merger = UplinkMerger(window_s=2.0)
    assert merger.add(heard("aa" * 8, -90), now=100.0)
    assert merger.add(heard("aa" * 8, -90), now=102.5)
    assert len(merger.links(FRAME)) == 1


def test_different_frames_never_merge_and_memory_stays_bounded():
    merger = UplinkMerger(window_s=60.0, keep=100)
    for n in range(1000):
        assert merger.add(heard("aa" * 8, -80, payload=n.to_bytes(5, "big")), now=100.0 + n / 1000)
    assert len(merger._heard) <= 101
    assert merger.links(FRAME) == [] and merger.best_gateway(FRAME) is None


def test_an_ingest_error_names_the_field_and_the_reason():
    error = IngestError("rxpk[0].data", "not base64")
    assert (error.field, error.reason, str(error)) == (
        "rxpk[0].data",
        "not base64",
        "rxpk[0].data: not base64",
    )


def test_the_same_bytes_from_two_sites_are_two_frames():
    """Two quarries' trackers with the same id in the same grid cell send the same bytes: both count."""
    merger = UplinkMerger()
    assert merger.add(heard("aa" * 8, -90), now=100.0, site="north") is True
    assert merger.add(heard("bb" * 8, -80), now=100.1, site="south") is True
    assert merger.add(heard("cc" * 8, -70), now=100.2, site="south") is False
    assert merger.best_gateway(FRAME, "south") == "cc" * 8 and merger.best_gateway(FRAME, "north") == "aa" * 8
