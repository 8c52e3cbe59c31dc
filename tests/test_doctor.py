import pytest
import torch

from hepvae.cli import main
from hepvae.device import choose_precision, resolve_device
from hepvae.errors import ConfigError


def test_doctor_reports_cpu_and_precision(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "lgatr" in out and "coffea" in out
    assert "recommended on cpu" in out
    expected = choose_precision("auto", torch.device("cpu"))
    line = next(line for line in out.splitlines() if "recommended on cpu" in line)
    assert expected in line


def test_precision_resolution_on_cpu():
    cpu = torch.device("cpu")
    assert choose_precision("auto", cpu) in ("fp32", "bf16")
    assert choose_precision("fp32", cpu) == "fp32"
    with pytest.raises(ConfigError, match="precision 'fp8'"):
        choose_precision("fp8", cpu)


def test_cuda_device_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"
