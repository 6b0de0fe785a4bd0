"""Every kind of benchmark cell survives the trip through its protobuf message unchanged."""

from datetime import UTC, datetime

from shared.convert_benchmarks import cell_as_of, cell_from_proto, cell_to_proto
from shared.demo_dataset import build_demo_dataset
from shared.domain.benchmarks import compute_benchmarks
from shared.domain.sample_instrument import JEDI_CULTURE

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)


def test_every_cell_of_the_demo_dataset_round_trips_exactly():
    dataset = build_demo_dataset(JEDI_CULTURE, now=AS_OF, scale=0.5)
    cells = compute_benchmarks(
        dataset.sites, [dataset.instrument], dataset.responses, dataset.interventions, as_of=AS_OF
    ).cells
    kinds = {type(cell).__name__ for cell in cells}
    assert len(kinds) == 8, kinds  # every kind of cell is exercised
    for cell in cells:
        message = cell_to_proto(cell, as_of=AS_OF, revision=7)
        parsed = type(message).FromString(message.SerializeToString())
        assert cell_from_proto(parsed) == cell
        assert parsed.key == cell.key and parsed.revision == 7
        assert cell_as_of(parsed) == AS_OF
