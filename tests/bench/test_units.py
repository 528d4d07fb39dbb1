"""DynamoDB's sizing rules as bench/units.py applies them, and the before/after costs they give."""

from __future__ import annotations

from bench import units


def test_item_size_counts_names_and_values_by_dynamodbs_rules() -> None:
    """Names in UTF-8 bytes; strings by bytes; numbers one byte per two significant digits plus one; sets summed."""
    item = {"pk": {"S": "abc"}, "n": {"N": "12345"}, "ss": {"SS": ["ab", "é"]}, "z": {"N": "1000"}}
    assert units.item_size(item) == (2 + 3) + (1 + 4) + (2 + 2 + 2) + (1 + 2)


def test_units_round_up_per_started_kilobyte_and_four_kilobytes() -> None:
    """A 1,025-byte write costs 2 units; a Query over 4,097 bytes costs 1 eventually consistent unit (2 blocks)."""
    assert units.write_units(100) == 1 and units.write_units(1025) == 2 and units.write_units(10, 2049) == 3
    item = {"pk": {"S": "x" * 4095}}  # 4,097 bytes with its name
    assert units.query_read_units([item]) == 1.0
    assert units.query_read_units([item], consistent=True) == 2.0
    assert units.query_read_units([]) == 0.5


def test_costs_charge_the_old_layout_an_index_write_per_room_at_connect() -> None:
    """Before, each room subscription wrote an item and its index entry; now one room item each."""
    room_items = [
        {
            "pk": {"S": "room#7#0"},
            "sk": {"S": f"conn{i:012d}"},
            "user_id": {"N": str(i)},
            "username": {"S": f"user{i}"},
            "expires_at": {"N": "1764700000"},
        }
        for i in range(50)
    ]
    connection = {"pk": {"S": "conn000000000000"}, "sk": {"S": "#conn"}, "subs": {"SS": ["7:0", "8:0"]}}
    found = units.costs(connection, room_items, 7, rooms_of_user=2)
    assert found["connect"]["before_wcu"] == 1 + 1 + 2 * 2
    assert found["connect"]["now_wcu"] == 1 + 1 + 2 + 1
    assert found["message"]["now_wcu"] == found["message"]["before_wcu"] == 1
    assert found["sizes"]["room_items"] == 50
    assert found["sizes"]["old_index_item"] > found["sizes"]["room_item"]
