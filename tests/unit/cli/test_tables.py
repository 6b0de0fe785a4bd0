from services.cli.tables import render


def test_render_pads_columns_and_right_aligns_numbers() -> None:
    text = render(
        ["site", "n", "% positive"],
        [["North", 89, "69.5%"], ["South hospital", 5, None]],
        title="T",
    )
    lines = text.splitlines()
    assert lines[0] == "T"
    assert lines[1] == "site             n  % positive"
    assert lines[3] == "North           89       69.5%"
    assert lines[4] == "South hospital   5           —"


def test_render_says_when_nothing_is_published() -> None:
    assert render(["a"], []).splitlines()[-1] == "(nothing published)"
