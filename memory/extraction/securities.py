"""Recognising securities in text: tickers and company names from a curated table.

Bare upper-case tickers only count when they cannot be ordinary English ("IT", "ALL", "ON"): those
need a `$` or a clear ticker context. Company names match case-insensitively on word boundaries.
"""
from __future__ import annotations

import re
from functools import lru_cache

from memory.extraction.types import EntityRef

# ticker, display name, sector, aliases
SECURITIES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("AAPL", "Apple Inc.", "Technology", ("apple",)),
    ("MSFT", "Microsoft Corp.", "Technology", ("microsoft",)),
    ("GOOG", "Alphabet Inc.", "Communication Services", ("alphabet", "google")),
    ("GOOGL", "Alphabet Inc. Class A", "Communication Services", ()),
    ("AMZN", "Amazon.com Inc.", "Consumer Discretionary", ("amazon",)),
    ("META", "Meta Platforms Inc.", "Communication Services", ("meta platforms",)),
    ("FB", "Facebook (Meta Platforms)", "Communication Services", ("facebook",)),
    ("IBM", "International Business Machines", "Technology", ("international business machines",)),
    ("NVDA", "NVIDIA Corp.", "Technology", ("nvidia",)),
    ("TSLA", "Tesla Inc.", "Consumer Discretionary", ("tesla",)),
    ("BRK.B", "Berkshire Hathaway Class B", "Financials", ("berkshire hathaway", "berkshire")),
    ("JPM", "JPMorgan Chase & Co.", "Financials", ("jpmorgan", "jp morgan")),
    ("V", "Visa Inc.", "Financials", ("visa",)),
    ("MA", "Mastercard Inc.", "Financials", ("mastercard",)),
    ("JNJ", "Johnson & Johnson", "Health Care", ("johnson & johnson", "johnson and johnson")),
    ("PFE", "Pfizer Inc.", "Health Care", ("pfizer",)),
    ("UNH", "UnitedHealth Group", "Health Care", ("unitedhealth",)),
    ("XOM", "Exxon Mobil Corp.", "Energy", ("exxon", "exxonmobil", "exxon mobil")),
    ("CVX", "Chevron Corp.", "Energy", ("chevron",)),
    ("BP", "BP plc", "Energy", ()),
    ("SHEL", "Shell plc", "Energy", ()),
    ("KO", "Coca-Cola Co.", "Consumer Staples", ("coca-cola", "coca cola", "coke")),
    ("PEP", "PepsiCo Inc.", "Consumer Staples", ("pepsico", "pepsi")),
    ("PG", "Procter & Gamble", "Consumer Staples", ("procter & gamble", "procter and gamble")),
    ("WMT", "Walmart Inc.", "Consumer Staples", ("walmart",)),
    ("COST", "Costco Wholesale", "Consumer Staples", ("costco",)),
    ("MO", "Altria Group", "Consumer Staples", ("altria",)),
    ("PM", "Philip Morris International", "Consumer Staples", ("philip morris",)),
    ("BTI", "British American Tobacco", "Consumer Staples", ("british american tobacco",)),
    ("DIS", "Walt Disney Co.", "Communication Services", ("disney",)),
    ("NFLX", "Netflix Inc.", "Communication Services", ("netflix",)),
    ("INTC", "Intel Corp.", "Technology", ("intel",)),
    ("AMD", "Advanced Micro Devices", "Technology", ("advanced micro devices",)),
    ("ORCL", "Oracle Corp.", "Technology", ("oracle",)),
    ("CSCO", "Cisco Systems", "Technology", ("cisco",)),
    ("ADBE", "Adobe Inc.", "Technology", ("adobe",)),
    ("CRM", "Salesforce Inc.", "Technology", ("salesforce",)),
    ("BA", "Boeing Co.", "Industrials", ("boeing",)),
    ("LMT", "Lockheed Martin", "Industrials", ("lockheed martin", "lockheed")),
    ("CAT", "Caterpillar Inc.", "Industrials", ("caterpillar",)),
    ("GE", "General Electric", "Industrials", ("general electric",)),
    ("F", "Ford Motor Co.", "Consumer Discretionary", ("ford",)),
    ("GM", "General Motors", "Consumer Discretionary", ("general motors",)),
    ("NKE", "Nike Inc.", "Consumer Discretionary", ("nike",)),
    ("MCD", "McDonald's Corp.", "Consumer Discretionary", ("mcdonald's", "mcdonalds")),
    ("SBUX", "Starbucks Corp.", "Consumer Discretionary", ("starbucks",)),
    ("T", "AT&T Inc.", "Communication Services", ("at&t",)),
    ("VZ", "Verizon Communications", "Communication Services", ("verizon",)),
    ("BAC", "Bank of America", "Financials", ("bank of america",)),
    ("GS", "Goldman Sachs", "Financials", ("goldman sachs", "goldman")),
    ("NEE", "NextEra Energy", "Utilities", ("nextera",)),
    ("SPY", "SPDR S&P 500 ETF", "ETF", ("s&p 500 etf",)),
    ("VOO", "Vanguard S&P 500 ETF", "ETF", ()),
    ("VTI", "Vanguard Total Stock Market ETF", "ETF", ("total stock market",)),
    ("QQQ", "Invesco QQQ (Nasdaq-100)", "ETF", ()),
    ("VXUS", "Vanguard Total International Stock ETF", "ETF", ()),
    ("BND", "Vanguard Total Bond Market ETF", "ETF", ()),
    ("AGG", "iShares Core US Aggregate Bond ETF", "ETF", ()),
    ("TLT", "iShares 20+ Year Treasury Bond ETF", "ETF", ()),
    ("GLD", "SPDR Gold Shares", "ETF", ()),
    ("ESGU", "iShares ESG Aware MSCI USA ETF", "ETF", ()),
)

# Tickers that are also common words or initials: only with `$`.
AMBIGUOUS = {"V", "MA", "T", "F", "GE", "GM", "BA", "CAT", "KO", "PM", "MO", "BP", "GS", "COST", "DIS", "ALL", "IT", "ON"}

_BY_SYMBOL = {symbol: (name, sector) for symbol, name, sector, _ in SECURITIES}


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, str]]:
    alias_to_symbol: dict[str, str] = {}
    for symbol, _, _, aliases in SECURITIES:
        for alias in aliases:
            alias_to_symbol[alias] = symbol
    aliases = sorted(alias_to_symbol, key=len, reverse=True)
    name_pattern = re.compile(r"(?<![\w&])(" + "|".join(re.escape(a) for a in aliases) + r")(?![\w&])", re.IGNORECASE)
    symbols = sorted(_BY_SYMBOL, key=len, reverse=True)
    ticker_pattern = re.compile(r"(\$?)\b(" + "|".join(re.escape(s) for s in symbols) + r")\b(?![a-z])")
    return name_pattern, ticker_pattern, alias_to_symbol


def ref_for(symbol: str) -> EntityRef:
    name, _ = _BY_SYMBOL.get(symbol, (symbol, None))
    return EntityRef("security", symbol, name)


def find_securities(text: str) -> list[tuple[EntityRef, tuple[int, int]]]:
    """Every security named in `text`, in order of appearance, with its character span."""
    name_pattern, ticker_pattern, alias_to_symbol = _patterns()
    found: list[tuple[EntityRef, tuple[int, int]]] = []
    for match in ticker_pattern.finditer(text):
        dollar, symbol = match.group(1), match.group(2)
        if symbol in AMBIGUOUS and not dollar:
            continue
        found.append((ref_for(symbol), match.span(2)))
    for match in name_pattern.finditer(text):
        found.append((ref_for(alias_to_symbol[match.group(1).lower()]), match.span(1)))
    found.sort(key=lambda item: item[1][0])
    return found


def sector_of(symbol: str) -> str | None:
    return _BY_SYMBOL.get(symbol, (None, None))[1]


def lookup_symbol(text: str) -> str | None:
    """A user-typed ticker or company name resolved to a known ticker, or None."""
    candidate = (text or "").strip().lstrip("$").upper()
    if candidate in _BY_SYMBOL:
        return candidate
    matches = find_securities(text or "")
    return matches[0][0].key if matches else None
