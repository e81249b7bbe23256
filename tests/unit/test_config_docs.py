from tools.docgen.configuration_md import DOC, render


def test_the_configuration_reference_matches_the_settings_classes() -> None:
    assert DOC.read_text() == render(), "run `python -m tools.docgen write`"


def test_every_setting_is_described() -> None:
    rows = [line for line in render().splitlines() if line.startswith("| `AR_")]
    assert len(rows) > 20
    assert all(not line.endswith("|  |") for line in rows), "a setting has no description"
