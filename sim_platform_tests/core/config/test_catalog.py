"""The naming rule and hierarchy placement, exactly as the output contract states them."""

import pytest

from sim_platform.core.config.catalog import SYSTEM, CatalogError, SeriesError, catalog_from_dict
from sim_platform.core.config.pipelines import default_catalog

M = ("message_source", "master")


@pytest.mark.parametrize(
    "payload, tags, hierarchy, column",
    [
        ("module_voltage", (("phase", "1"), ("module", "3"), M), "phase1_module3", "module_voltage"),
        ("battery_voltage", (("phase", "2"), ("module", "8"), ("battery", "1"), M), "phase2_module8", "battery_voltage_battery1"),
        (
            "cell_voltage",
            (("phase", "1"), ("module", "1"), ("cell", "3"), ("battery", "1"), M),
            "phase1_module1",
            "cell_voltage_battery1_cell3",
        ),
        (
            "battery_sensor_temperature",
            (("phase", "3"), ("module", "2"), ("battery", "1"), ("sensor", "1"), M),
            "phase3_module2",
            "battery_sensor_temperature_battery1_sensor1",
        ),
        ("debug_value", (("debug_value_key", "cb_temp_core"), M), SYSTEM, "debug_value_cb_temp_core"),
        ("phase_current", (("phase", "2"), M), "phase2", "phase_current"),
        ("system_state", (M,), SYSTEM, "system_state"),
        # message_source other than master is appended like any other tag; unknown tags go alphabetically
        (
            "module_voltage",
            (("phase", "1"), ("module", "3"), ("message_source", "slave")),
            "phase1_module3",
            "module_voltage_message_sourceslave",
        ),
        (
            "module_voltage",
            (("zeta", "9"), ("phase", "1"), ("module", "3"), ("alpha", "x"), ("battery", "2")),
            "phase1_module3",
            "module_voltage_battery2_alphax_zeta9",
        ),
        # a module tag without a phase does not choose a hierarchy: it is part of the name
        ("module_voltage", (("module", "3"),), SYSTEM, "module_voltage_module3"),
    ],
)
def test_placement_and_column_names(payload, tags, hierarchy, column):
    info = default_catalog().place(payload, tags)
    assert (info.hierarchy, info.column) == (hierarchy, column)


def test_unknown_payload_is_placed_with_defaults():
    info = default_catalog().place("module_new_metric", (("phase", "1"), ("module", "2"), M))
    assert info.column == "module_new_metric" and info.hierarchy == "phase1_module2"
    assert not info.signal.known and info.signal.fill_limit_s == 120


def test_declared_columns_follow_catalog_order():
    cat = default_catalog()
    cols = [c for c, _ in cat.declared_columns("module")]
    assert cols[:5] == [
        "module_voltage",
        "module_current",
        "module_state_of_charge",
        "module_temperature",
        "battery_voltage_battery1",
    ]
    assert [c for c in cols if c.startswith("cell_voltage")] == [f"cell_voltage_battery1_cell{i}" for i in range(1, 15)]
    assert [c for c, _ in cat.declared_columns("phase")] == ["phase_current", "phase_module_count"]
    assert "debug_value_cb_temp_mcp9701" in [c for c, _ in cat.declared_columns("system")]
    assert len(cat.plant_hierarchies()) == 3 * 8 + 3 + 1


@pytest.mark.parametrize("bad", ["1/../x", "", "a b"])
def test_hierarchy_tags_must_be_plain_tokens(bad):
    with pytest.raises(SeriesError, match="plain token"):
        default_catalog().place("module_voltage", (("phase", bad), ("module", "1")))


def test_repeated_tag_key_is_refused():
    with pytest.raises(SeriesError, match="appears twice"):
        default_catalog().place("module_voltage", (("phase", "1"), ("phase", "2")))


def test_catalog_errors_name_the_entry():
    with pytest.raises(CatalogError, match=r"test.yaml: signals.x.level: Input should be 'module', 'phase' or 'system'"):
        catalog_from_dict({"signals": {"x": {"level": "rack"}}}, "test.yaml")
    with pytest.raises(CatalogError, match="signals.x.colour: Extra inputs are not permitted"):
        catalog_from_dict({"signals": {"x": {"colour": "red"}}}, "test.yaml")
    with pytest.raises(CatalogError, match="signals.x: aggregation 'mean' is not valid for text"):
        catalog_from_dict({"signals": {"x": {"kind": "text", "aggregation": "mean"}}}, "test.yaml")
    with pytest.raises(CatalogError, match="signals.x.out_of_range: Input should be 'keep', 'null' or 'fail'"):
        catalog_from_dict({"signals": {"x": {"out_of_range": "drop"}}}, "test.yaml")
    with pytest.raises(CatalogError, match=r"signals.x: fault_values \['BOOM'\] must also be in known_values"):
        catalog_from_dict({"signals": {"x": {"kind": "text", "known_values": ["RUN"], "fault_values": ["BOOM"]}}}, "test.yaml")


@pytest.mark.parametrize(
    "entry, where",
    [
        ("{kind: text, known_values: [IDLE, RUN, OFF]}", "signals.system_state.known_values.2: False (bool) is not text"),
        ("{kind: text, known_values: [IDLE, yes]}", "signals.system_state.known_values.1: True (bool) is not text"),
        ("{unit: 1, bounds: [0, 1]}", "signals.system_state.unit: 1 (int) is not text"),
        ("{kind: text, known_values: [IDLE, 3]}", "signals.system_state.known_values.1: 3 (int) is not text"),
    ],
)
def test_catalog_text_fields_refuse_what_yaml_made_of_unquoted_words(tmp_path, entry, where):
    """YAML 1.1 reads unquoted OFF/ON/YES/NO as booleans: the catalog refuses them by name, never
    turning OFF into 'False' behind the user's back."""
    from sim_platform.core.config.catalog import parse_yaml

    path = tmp_path / "catalog.yaml"
    path.write_text(f"signals:\n  system_state: {entry}\n")
    with pytest.raises(CatalogError) as err:
        catalog_from_dict(parse_yaml(path.read_text()), str(path))
    assert f"{path}: {where}" in str(err.value) and "quote it" in str(err.value)


def test_packaged_catalog_quotes_its_values():
    import re

    from sim_platform_tests.core.tabular_files import PACKAGED

    text = PACKAGED.read_text()
    for line in text.splitlines():
        if re.search(r"\b(known_values|fault_values|unit):", line) and not line.lstrip().startswith("#"):
            assert re.search(r"(known_values|fault_values): \[(\"[A-Z]+\"(, )?)+\]|unit: \"[^\"]*\"", line), line
    state = default_catalog().signals["system_state"]
    assert {"INIT", "READY", "IDLE", "RUN", "ERROR", "EMERGENCY", "OFF"} <= set(state.known_values)
    assert set(state.fault_values) == {"FAULT", "ERROR", "EMERGENCY"}
