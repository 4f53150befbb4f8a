"""The securities master (pytickersymbols) and what counts as naming a security in free text."""
from __future__ import annotations

import pytest

from memory.extraction.securities import SecurityInfo, find_securities, lookup_symbol, sector_of, security_info


def keys(text: str) -> list[str]:
    return [ref.key for ref, _ in find_securities(text)]


@pytest.mark.parametrize("said", ["Apple", "Apple Inc.", "AAPL", "$AAPL", "apple inc"])
def test_a_company_name_its_legal_name_and_its_ticker_are_one_security(said):
    assert keys(f"I bought {said} last week") == ["AAPL"]
    assert lookup_symbol(said) == "AAPL"


def test_security_info_carries_the_packages_name_industries_and_isin():
    info = security_info("PM")

    assert info == SecurityInfo("PM", "Philip Morris International", info.industries, "Consumer Staples",
                                "US7181721090", ())
    assert "Tobacco" in info.industries
    assert "Arms industry Shipbuilding" in security_info("GD").industries
    assert "Fossil Fuels" in security_info("CVX").industries
    assert security_info("NOPE") is None


def test_two_listings_of_one_company_are_aliases_of_one_another():
    assert security_info("GOOG").aliases == ("GOOGL",) and security_info("GOOGL").aliases == ("GOOG",)
    assert security_info("FB").aliases == ("META",) and security_info("META").aliases == ("FB",)
    assert security_info("FB").name == security_info("META").name == "Meta Platforms"
    # Names resolve to the listing the replayed prices and earlier memories use.
    assert keys("Google, Alphabet, Facebook and Meta") == ["GOOG", "GOOG", "FB", "FB"]
    assert keys("GOOG and GOOGL") == ["GOOG", "GOOGL"]


def test_names_the_package_lacks_come_from_the_documented_spoken_names():
    assert keys("Coke, JPMorgan and Exxon") == ["KO", "JPM", "XOM"]
    assert keys("Johnson & Johnson and Procter and Gamble") == ["JNJ", "PG"]
    assert lookup_symbol("Coca-Cola") == "KO"


def test_a_company_listed_abroad_resolves_to_its_us_listing():
    assert keys("I hold Shell and British American Tobacco") == ["SHEL", "BTI"]
    assert security_info("SHEL").aliases == ("SHELL.AS",)


@pytest.mark.parametrize("text", [
    "Apple pie is my favourite", "an apple a day", "Target date funds are fine for me", "My visa application",
    "Visa application fees went up", "We had to ford the river", "Shell companies worry me",
    "I'm a long-term Investor", "Next year we retire", "Our Pool needs repairs", "Orange juice prices",
    "IT is ALL ON track", "I'll buy NOW", "The CAT scan was fine", "GE and MA are initials here",
    "the Nasdaq was down 4.2% at one point", "better than the MSCI World index", "the Dow hit a record",
])
def test_ordinary_english_is_not_a_security(text):
    assert keys(text) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("I shop at Target and hold Target shares", ["TGT", "TGT"]),
    ("I hold Visa and Ford", ["V", "F"]),
    ("Target is cheap and Visa to report soon", ["TGT", "V"]),
    ("Apple dipped so I bought some", ["AAPL"]),
    ("Shell's dividend", ["SHEL"]),
    ("$GE and $KO", ["GE", "KO"]),
    ("I own General Motors", ["GM"]),
    ("$MSCI and Nasdaq, Inc. report today", ["MSCI", "NDAQ"]),
])
def test_common_word_names_count_when_capitalised_as_a_company(text, expected):
    assert keys(text) == expected


def test_a_name_made_only_of_english_words_must_be_capitalised():
    assert keys("the bank of america and public storage and dollar general") == []
    assert keys("Bank of America, Public Storage and Dollar General") == ["BAC", "PSA", "DG"]


def test_spans_point_at_the_words_that_name_the_security():
    text = "Sold Microsoft's shares, kept $IBM and Johnson & Johnson."
    spans = [text[start:end] for _, (start, end) in find_securities(text)]

    assert spans == ["Microsoft", "IBM", "Johnson & Johnson"]


def test_typed_input_accepts_any_unique_company_name_and_funds():
    assert lookup_symbol("target") == "TGT"
    assert lookup_symbol("Pool") == "POOL"
    assert lookup_symbol("spy") == "SPY" and sector_of("SPY") == "ETF"
    assert lookup_symbol("not a company at all") is None


def test_sectors_come_from_the_packages_industries():
    assert sector_of("AAPL") == "Technology"
    assert sector_of("KO") == "Consumer Staples"
    assert sector_of("XOM") == "Energy"
    assert sector_of("JNJ") == "Health Care"
    assert sector_of("JPM") == "Financials"
    assert sector_of("NOPE") is None


def test_a_clients_move_id_names_the_shared_event_and_the_client_and_nothing_else_parses_as_one():
    from memory.graph.securities import move_event_id, move_link_id, split_move_link_id
    from memory.scope import client_scope

    event = move_event_id("BRK-B", "2026-03-02")
    ann = client_scope("acme", "ann")

    assert event == "market_move:BRK-B:2026-03-02"
    assert split_move_link_id(move_link_id(event, ann)) == (event, ann)
    assert split_move_link_id(event) is None  # the shared event itself is no client's move
    assert split_move_link_id("note:0a1b") is None
    assert split_move_link_id(f"{event}@") is None
