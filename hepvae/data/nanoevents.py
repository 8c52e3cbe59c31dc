"""Reading hepvae files with coffea NanoEvents.

>>> from coffea.nanoevents import NanoEventsFactory
>>> from hepvae.data.nanoevents import HepvaeSchema
>>> events = NanoEventsFactory.from_root({"jets.root": "Events"}, schemaclass=HepvaeSchema,
...                                      mode="eager").events()
>>> events.Part.delta_r(events.Jet)   # constituents' distance to their jet axis
"""

from __future__ import annotations

from coffea.nanoevents import NanoAODSchema


class HepvaeSchema(NanoAODSchema):
    """NanoAOD schema for the hepvae ROOT layout (one jet per event).

    ``events.Jet`` is a single ``PtEtaPhiMLorentzVector`` per event (with ``label`` and
    ``nparticles``) and ``events.Part`` its jagged ``PtEtaPhiMCollection`` of constituents.
    """

    mixins = {
        **NanoAODSchema.mixins,
        "Jet": "PtEtaPhiMLorentzVector",
        "Part": "PtEtaPhiMCollection",
    }
    all_cross_references = {}


def open_events(path: str, mode: str = "eager"):
    """Open one hepvae file as NanoEvents (``mode`` is eager, virtual or dask)."""
    from coffea.nanoevents import NanoEventsFactory

    return NanoEventsFactory.from_root(
        {str(path): "Events"}, schemaclass=HepvaeSchema, mode=mode
    ).events()
