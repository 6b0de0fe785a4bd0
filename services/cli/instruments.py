"""Asks ingest for a registered instrument, so an export is checked against its real items and waves."""

from __future__ import annotations

from pathlib import Path

import grpc

from jedi.v1 import ingest_pb2, ingest_pb2_grpc
from shared.clients import call_metadata, open_channel
from shared.convert import instrument_from_proto
from shared.domain.model import Instrument


class InstrumentUnavailable(Exception):
    """The instrument could not be read; the message says why, for the person at the keyboard."""


async def fetch_instrument(
    address: str, api_key: str, instrument_id: str, version: int = 0, *, ca_file: Path | None = None
) -> Instrument:
    """The registered instrument version (0: the highest registered version)."""
    async with open_channel(address, ca_file=ca_file) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        try:
            reply = await stub.GetInstrument(
                ingest_pb2.GetInstrumentRequest(instrument_id=instrument_id, version=version),
                metadata=call_metadata(api_key),
                timeout=30,
            )
        except grpc.aio.AioRpcError as error:
            raise InstrumentUnavailable(
                f"ingest at {address} answered {error.code().name}: {error.details()}"
            ) from None
    instrument = instrument_from_proto(reply.instrument)
    if isinstance(instrument, list):
        raise InstrumentUnavailable(
            f"ingest sent an instrument this uploader cannot read: {instrument}"
        )
    return instrument
