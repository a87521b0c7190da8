"""LoRa time on air per the SX1276 datasheet formula, checked against published reference figures.

Worked by hand from T = (n_preamble + 4.25 + n_payload) · 2^SF / BW with
n_payload = 8 + max(ceil((8PL − 4SF + 28 + 16CRC − 20IH) / 4(SF − 2DE)) · (CR + 4), 0):
- 10 B, SF7/125 kHz: Ts = 1.024 ms; ceil(96/28) = 4 → 8 + 20 = 28 payload symbols;
  (12.25 + 28) · 1.024 = 41.216 ms.
- 13 B (an empty LoRaWAN uplink), SF7/125 kHz: ceil(120/28) = 5 → 33 symbols; 45.25 · 1.024 = 46.336 ms.
- 13 B, SF12/125 kHz, LDRO on (Ts = 32.768 ms ≥ 16 ms): ceil(100/40) = 3 → 23 symbols;
  35.25 · 32.768 = 1155.072 ms (the familiar "1.155 s at SF12" figure for an empty LoRaWAN uplink).
- 10 B, SF12/125 kHz, LDRO on: ceil(76/40) = 2 → 18 symbols; 30.25 · 32.768 = 991.232 ms.
"""

import pytest

from tocsin.minesafe.radio import LoraParams, payload_symbols, time_on_air


def test_ten_bytes_at_sf7_125khz_takes_41_216_ms():
    assert time_on_air(10, LoraParams(sf=7, bw_hz=125e3, cr=1, preamble=8)) == pytest.approx(0.041216)


def test_an_empty_lorawan_uplink_at_sf7_takes_46_336_ms():
    assert time_on_air(13, LoraParams(sf=7)) == pytest.approx(0.046336)


def test_an_empty_lorawan_uplink_at_sf12_with_ldro_takes_1155_072_ms():
    assert time_on_air(13, LoraParams(sf=12)) == pytest.approx(1.155072)


def test_ten_bytes_at_sf12_with_ldro_takes_991_232_ms():
    assert time_on_air(10, LoraParams(sf=12)) == pytest.approx(0.991232)


def test_ldro_switches_on_automatically_from_16_ms_symbols():
    assert not LoraParams(sf=10, bw_hz=125e3).low_data_rate  # 8.192 ms
    assert LoraParams(sf=11, bw_hz=125e3).low_data_rate  # 16.384 ms
    assert LoraParams(sf=12, bw_hz=250e3).low_data_rate  # 16.384 ms
    assert not LoraParams(sf=12, bw_hz=500e3).low_data_rate  # 8.192 ms


def test_forcing_ldro_lengthens_the_packet():
    forced = time_on_air(10, LoraParams(sf=7, ldro=True))
    assert payload_symbols(10, LoraParams(sf=7, ldro=True)) == 8 + 5 * 5  # ceil(96/20) = 5
    assert forced > time_on_air(10, LoraParams(sf=7))


def test_implicit_header_and_no_crc_shorten_the_packet():
    lean = LoraParams(sf=7, explicit_header=False, crc=False)
    assert payload_symbols(10, lean) == 8 + 3 * 5  # ceil((80 − 28 + 28 − 20)/28) = ceil(60/28) = 3
    assert time_on_air(10, lean) < time_on_air(10, LoraParams(sf=7))


def test_higher_coding_rate_costs_more_symbols():
    assert payload_symbols(10, LoraParams(cr=4)) == 8 + 4 * 8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sf": 13}, "^sf: "),
        ({"sf": 6}, "SF6 works only with an implicit header"),
        ({"cr": 5}, "^cr: "),
        ({"bw_hz": 0}, "^bw_hz: "),
    ],
)
def test_impossible_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LoraParams(**kwargs)


def test_sf6_with_implicit_header_is_allowed():
    assert time_on_air(5, LoraParams(sf=6, explicit_header=False)) > 0
