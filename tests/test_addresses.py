"""Street cells as CRMs export them split into street, number, unit, extra lines and PO box."""

from __future__ import annotations

import pytest

from gcrm.addresses import parse_address


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Mannerheimintie 20 A", {"street": "Mannerheimintie", "housenumber": "20 A"}),
        ("Mannerheimintie 20 A 12",
         {"street": "Mannerheimintie", "housenumber": "20 A", "unit": "12"}),
        ("Siltasaarenkatu 3-5 B", {"street": "Siltasaarenkatu", "housenumber": "3-5 B"}),
        ("Siltasaarenkatu 3 - 5", {"street": "Siltasaarenkatu", "housenumber": "3-5"}),
        ("Annankatu 31-33, 2. krs",
         {"street": "Annankatu", "housenumber": "31-33", "unit": "2. krs"}),
        ("Bulevardi 10\nPL 45", {"street": "Bulevardi", "housenumber": "10", "po_box": "PL 45"}),
        ("Friedrichstraße 12a", {"street": "Friedrichstraße", "housenumber": "12a"}),
        ("Hauptstr. 5", {"street": "Hauptstr.", "housenumber": "5"}),
        ("Hauptstr. 5, 2. OG", {"street": "Hauptstr.", "housenumber": "5", "unit": "2. OG"}),
        ("Maximilianstraße 2 / 1. OG",
         {"street": "Maximilianstraße", "housenumber": "2", "unit": "1. OG"}),
        ("c/o Firma X\nOpernstraße 22",
         {"street": "Opernstraße", "housenumber": "22", "extra": "c/o Firma X"}),
        ("Postfach 1234", {"po_box": "Postfach 1234"}),
        ("12 bis rue de la Paix", {"street": "rue de la Paix", "housenumber": "12 bis"}),
        ("12, rue de la Paix", {"street": "rue de la Paix", "housenumber": "12"}),
        ("221B Baker Street", {"street": "Baker Street", "housenumber": "221B"}),
        ("Suite 400, 123 Main St",
         {"street": "Main St", "housenumber": "123", "unit": "Suite 400"}),
        ("Drottninggatan 5 lgh 1102",
         {"street": "Drottninggatan", "housenumber": "5", "unit": "lgh 1102"}),
        ("Storgatan 3, 2 tr", {"street": "Storgatan", "housenumber": "3", "unit": "2 tr"}),
        ("Calle Mayor 5, 3º izda",
         {"street": "Calle Mayor", "housenumber": "5", "unit": "3º izda"}),
        ("Annankatu5", {"street": "Annankatu", "housenumber": "5"}),
        ("Annankatu", {"street": "Annankatu"}),
        ("Mannerheimintie 20 A, 00100 Helsinki, Finland",
         {"street": "Mannerheimintie", "housenumber": "20 A", "postcode": "00100",
          "city": "Helsinki", "country": "Finland"}),
        ("Friedrichstraße 12a, D-95444 Bayreuth",
         {"street": "Friedrichstraße", "housenumber": "12a", "postcode": "95444",
          "city": "Bayreuth"}),
    ],
)  # fmt: skip
def test_street_cells(cell: str, expected: dict[str, str]) -> None:
    """Nordic, German, French, English and Spanish habits split into the right parts."""
    parts = parse_address(cell)
    assert parts.as_dict() == expected
    assert parts.original == cell


def test_known_street_names_settle_a_comma_inside_a_name() -> None:
    """With the region's street names, "Kaivopiha, Mannerheimintie 19" is one street."""
    known = {"kaivopiha, mannerheimintie", "kaivopiha", "mannerheimintie"}.__contains__
    parts = parse_address("Kaivopiha, Mannerheimintie 19", known_street=lambda s: known(s.lower()))
    assert (parts.street, parts.housenumber) == ("Kaivopiha, Mannerheimintie", "19")
    assert parse_address("Kaivopiha, Mannerheimintie 19").street == "Mannerheimintie"


def test_stored_house_number_keeps_the_unit() -> None:
    """What is stored keeps staircase/floor after the number, so nothing is lost."""
    assert parse_address("Annankatu 31-33, 2. krs").stored_housenumber() == "31-33, 2. krs"
    assert parse_address("Annankatu").stored_housenumber() is None


def test_file_postcode_and_city_win() -> None:
    """A file's own postcode and city columns win over what the street cell holds."""
    parts = parse_address("Annankatu 5, 00100 Helsinki", postcode="00120", city="Helsingfors")
    assert (parts.postcode, parts.city) == ("00120", "Helsingfors")
