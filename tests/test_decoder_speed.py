"""The decoder-size speed benchmark at tiny sizes: real Pythia jets, real exports, real
onnxruntime sessions."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import decoder_speed

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "fast.yaml"


def test_decoder_speed_times_each_decoder(capsys):
    sizes = "--decoder 8/32 4/8 --jets 256 --batch 128 --rounds 2 --pythia-jets 20"
    result = decoder_speed.main(["--config", str(CONFIG), *sizes.split()])
    assert list(result) == ["8/32", "4/8"]
    # the override reaches the model: fewer channels, fewer decoder parameters
    assert result["4/8"]["parameters"] < result["8/32"]["parameters"]
    for figures in result.values():
        assert 0 < figures["fastest"] <= figures["median"] and figures["x_pythia"] > 0
    out = capsys.readouterr().out
    assert "8/32" in out and "4/8" in out and "Pythia 8 + FastJet" in out


@pytest.mark.parametrize("bad", ["8", "8/x", "0/32"])
def test_decoder_speed_rejects_bad_channels(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        decoder_speed.main(["--decoder", bad])
    assert exc.value.code == 2 and "--decoder" in capsys.readouterr().err
