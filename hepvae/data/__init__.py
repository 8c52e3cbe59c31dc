"""Jet data: the ROOT schema (schema), simulation (simulate) and importers (jetnet, branchmap)."""

from hepvae.data.schema import (
    JET_TYPES,
    LABELS,
    SCHEMA_VERSION,
    JetWriter,
    check_jets,
    count_jets,
    iterate_jets,
    label_of,
    make_jets,
    read_jets,
    read_metadata,
    wrap_phi,
    write_jets,
)

__all__ = [
    "JET_TYPES",
    "LABELS",
    "SCHEMA_VERSION",
    "JetWriter",
    "check_jets",
    "count_jets",
    "iterate_jets",
    "label_of",
    "make_jets",
    "read_jets",
    "read_metadata",
    "wrap_phi",
    "write_jets",
]
