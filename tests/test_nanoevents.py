import awkward as ak
import numpy as np

from hepvae.data.nanoevents import open_events
from hepvae.data.schema import read_jets


def test_coffea_reads_schema_with_vector_methods(jet_file):
    events = open_events(jet_file)
    jets = read_jets(jet_file)
    assert len(events) == len(jets)
    dr = events.Part.delta_r(events.Jet)
    expected = jets.Part.deltaR(jets.Jet)
    np.testing.assert_allclose(
        ak.to_numpy(ak.flatten(dr)), ak.to_numpy(ak.flatten(expected)), rtol=1e-5, atol=1e-6
    )
    summed = events.Part.sum(axis=1)
    np.testing.assert_allclose(ak.to_numpy(summed.mass), ak.to_numpy(events.Jet.mass), rtol=1e-3)
    assert ak.all(events.Jet.label == 2)


def test_coffea_dask_mode(jet_file):
    events = open_events(jet_file, mode="dask")
    total = ak.sum(ak.num(events.Part, axis=1)).compute()
    assert total == ak.sum(ak.num(read_jets(jet_file).Part, axis=1))
