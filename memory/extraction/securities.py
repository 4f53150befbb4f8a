"""The securities master and recognising securities in text.

The master is `pytickersymbols` (offline, MIT): about 1,800 companies of 20 stock indices with
their names, tickers, industries and ISINs. A company with several listings is one security with
ticker aliases (GOOG and GOOGL; META and its old ticker FB). On top of it sit three short,
documented tables for what the package lacks: names people say that it does not carry ("Google",
"Coke"), well-known companies whose name is an ordinary English word ("Apple", "Target"), and the
ETFs clients hold (the package lists stocks only).

What counts as a mention in free text, so that ordinary English does not become a security:
- a name matches as whole words; a name made only of English words ("General Motors") must be
  capitalised; a one-word English name ("Target", "Visa", "Shell", "Next", "Pool") matches only if
  it is in `COMMON_WORD_NAMES`, capitalised and not followed by a word that gives it its everyday
  meaning ("Target date", "Apple pie", "Visa application");
- a bare upper-case ticker that is a single letter, an English word ("ALL", "NOW", "CAT") or
  two-letter initials ("GE", "MA", "IT") needs a `$` ("$GE") or the company's name;
- names of markets that are also companies ("the Nasdaq", "the Dow") mean the market.
English words are those of the Webster's 2nd list in `english-words` (it includes rare words: the
cautious side).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from memory.extraction.types import EntityRef


@dataclass(frozen=True)
class SecurityInfo:
    symbol: str
    name: str
    industries: tuple[str, ...]  # pytickersymbols' own wording, uneven: "Tobacco", "Arms industry Shipbuilding"
    sector: str | None  # one of SECTOR_TERMS' sectors, derived from the industries; "ETF" for funds
    isin: str | None  # the company's first ISIN in the package
    aliases: tuple[str, ...]  # the company's other tickers: GOOG <-> GOOGL, FB <-> META


# Names the package does not carry, as people say them, to the company's ticker in the package.
SPOKEN_NAMES: dict[str, str] = {
    "google": "GOOGL", "alphabet": "GOOGL", "facebook": "META", "meta": "META",
    "coke": "KO", "coca-cola": "KO", "coca cola": "KO",
    "jpmorgan": "JPM", "jp morgan": "JPM", "j.p. morgan": "JPM",
    "exxon": "XOM", "exxon mobil": "XOM",
    "berkshire": "BRK.B", "pepsi": "PEP", "lockheed": "LMT", "goldman": "GS", "mcdonalds": "MCD",
    "johnson and johnson": "JNJ", "procter and gamble": "PG", "international business machines": "IBM",
    "disney": "DIS", "walt disney": "DIS", "philip morris": "PM", "general electric": "GE",
    "advanced micro devices": "AMD", "nextera": "NEE",
}

# One-word names that are English words but, capitalised, almost always mean the company; the
# words after them that give the everyday meaning instead ("Apple pie", "Target date fund").
COMMON_WORD_NAMES: dict[str, tuple[str, frozenset[str]]] = {
    "apple": ("AAPL", frozenset({"pie", "pies", "juice", "cider", "tree", "trees", "orchard", "sauce", "crumble"})),
    "amazon": ("AMZN", frozenset({"rainforest", "river", "basin", "jungle"})),
    "oracle": ("ORCL", frozenset({"of"})),
    "target": ("TGT", frozenset({"date", "price", "prices", "return", "returns", "allocation", "allocations",
                                 "weight", "weights", "range", "level", "rate", "amount", "retirement"})),
    "visa": ("V", frozenset({"application", "applications", "requirements", "sponsorship", "status", "interview",
                             "renewal", "fee", "fees", "for"})),
    "ford": ("F", frozenset()),
    "shell": ("SHELL.AS", frozenset({"company", "companies", "corporation", "corporations", "game", "script"})),
    "chevron": ("CVX", frozenset({"pattern", "sign"})),
    "caterpillar": ("CAT", frozenset()),
    "adobe": ("ADBE", frozenset({"house", "houses", "brick", "bricks"})),
    "cisco": ("CSCO", frozenset()),
}

# A company with two listings: the one its name resolves to, because the replayed prices and the
# memories recorded so far use it (the replay data have GOOG and FB, not GOOGL and META).
PREFERRED_LISTING = {"GOOGL": "GOOG", "META": "FB"}
# Tickers the package does not list: Meta traded as FB until June 2022.
FORMER_TICKERS = {"META": ("FB",)}

# Companies named like the index or market people mean by the word ("the Nasdaq was down 4%",
# "the MSCI World index", "the Dow"): only their full name, or their ticker with `$`, counts in free text.
MARKET_NAMES = {("nasdaq",), ("msci",), ("dow",), ("london", "stock", "exchange"), ("japan", "exchange")}

# Funds: the package lists stocks only.
FUNDS: tuple[tuple[str, str], ...] = (
    ("SPY", "SPDR S&P 500 ETF"), ("VOO", "Vanguard S&P 500 ETF"), ("VTI", "Vanguard Total Stock Market ETF"),
    ("QQQ", "Invesco QQQ (Nasdaq-100)"), ("VXUS", "Vanguard Total International Stock ETF"),
    ("BND", "Vanguard Total Bond Market ETF"), ("AGG", "iShares Core US Aggregate Bond ETF"),
    ("TLT", "iShares 20+ Year Treasury Bond ETF"), ("GLD", "SPDR Gold Shares"),
    ("ESGU", "iShares ESG Aware MSCI USA ETF"),
)

# Tickers typed bare often enough to count without `$` although they read as words or initials
# (all were recognised bare before the master).
BARE_TICKERS = {"FB", "PG", "VZ", "META", "SHEL", "PEP", "BAC", "NEE", "SPY"}

# Sector from the package's industries: GICS sector names first, then their synonyms, then telling
# industry words; within a tier the most mentioned sector wins, ties go to the first mentioned.
SECTOR_TERMS: tuple[dict[str, str], ...] = (
    {"Information Technology": "Technology", "Health Care": "Health Care", "Financials": "Financials",
     "Energy": "Energy", "Industrials": "Industrials", "Consumer Discretionary": "Consumer Discretionary",
     "Consumer Staples": "Consumer Staples", "Utilities": "Utilities", "Materials": "Materials",
     "Real Estate": "Real Estate", "Communication Services": "Communication Services"},
    {"Technology": "Technology", "Information technology": "Technology", "Healthcare": "Health Care",
     "Financial services": "Financials", "Financial Services": "Financials",
     "Consumer Cyclicals": "Consumer Discretionary",
     "Consumer Non-Cyclicals": "Consumer Staples", "Basic Materials": "Materials", "Real estate": "Real Estate",
     "Telecommunications": "Communication Services", "Industrial Goods": "Industrials", "Fossil Fuels": "Energy"},
    {"Banks": "Financials", "Banking": "Financials", "Insurance": "Financials", "Pharmaceuticals": "Health Care",
     "Biotechnology": "Health Care", "Semiconductors": "Technology", "Software": "Technology",
     "Computer Software": "Technology", "Oil & Gas": "Energy", "Beverages": "Consumer Staples",
     "Tobacco": "Consumer Staples", "Retail": "Consumer Discretionary", "Automotive": "Consumer Discretionary",
     "Apparel": "Consumer Discretionary", "Social media": "Communication Services", "Aerospace": "Industrials",
     "Chemicals": "Materials", "Electric Utilities": "Utilities"},
)

LEGAL_SUFFIXES = {"inc", "incorporated", "corp", "corporation", "co", "company", "plc", "ltd", "limited", "llc",
                  "lp", "ag", "se", "sa", "nv", "n.v", "ab", "asa", "oyj", "a/s", "spa", "s.p.a", "holdings",
                  "holding", "group", "&"}
CONNECTORS = {"of", "and", "&", "the", "de", "la", "du", "von", "der", "und", "for"}
TOKEN = re.compile(r"[^\W_]+(?:[-.&'’/][^\W_]+)*|&")
TICKER = re.compile(r"(\$?)\b([A-Z][A-Z0-9]*(?:\.[A-Z]{1,2})?)\b(?![a-z])")
US_EXCHANGES = ("NYSE:", "NASDAQ:")


def _words(text: str) -> list[tuple[str, int, int]]:
    """Tokens as (normalised word, start, end); a possessive "'s" is not part of the word."""
    words = []
    for match in TOKEN.finditer(text):
        token, end = match.group(), match.end()
        if token[-2:] in ("'s", "’s"):
            token, end = token[:-2], end - 2
        words.append((token.lower().replace("’", "'"), match.start(), end))
    return words


def _key(name: str) -> tuple[str, ...]:
    return tuple(word for word, _, _ in _words(name))


def _sector(industries: tuple[str, ...]) -> str | None:
    for terms in SECTOR_TERMS:
        votes = [terms[industry] for industry in industries if industry in terms]
        if votes:
            return max(dict.fromkeys(votes), key=votes.count)
    return None


@lru_cache(maxsize=1)
def _english() -> frozenset[str]:
    from english_words import get_english_words_set

    return frozenset(get_english_words_set(["web2"], lower=True, alpha=True))


@dataclass(frozen=True)
class _Alias:
    symbol: str
    capitalised: bool  # every word must start upper-case in the text
    veto: frozenset[str] = frozenset()  # a following word that gives the everyday meaning


@dataclass(frozen=True)
class _Master:
    by_symbol: dict[str, SecurityInfo]
    names: dict[tuple[str, ...], _Alias]  # what counts as a mention in free text
    typed_names: dict[tuple[str, ...], str]  # what a person may type in a symbol field: any unique name
    first_words: dict[str, int]  # first word of a name -> the most words a name starting with it has
    bare_tickers: frozenset[str]  # tickers that count without `$`


@lru_cache(maxsize=1)
def _master() -> _Master:
    from pytickersymbols import PyTickerSymbols

    english = _english()
    by_symbol: dict[str, SecurityInfo] = {}
    preferred: dict[str, str] = {}  # package symbol -> the listing its name resolves to
    short_names: dict[tuple[str, ...], set[str]] = {}
    for stock in PyTickerSymbols().get_all_stocks():
        primary = stock.get("symbol")
        if not primary or primary in preferred:
            continue
        us = [entry["google"].split(":", 1)[1] for entry in stock.get("symbols") or ()
              if entry.get("currency") == "USD" and entry.get("google", "").startswith(US_EXCHANGES)]
        listings = list(dict.fromkeys([primary, *us, *FORMER_TICKERS.get(primary, ())]))
        industries = tuple(stock.get("industries") or ())
        isins = stock.get("isins") or [None]
        for symbol in listings:
            by_symbol.setdefault(symbol, SecurityInfo(symbol, stock["name"], industries, _sector(industries), isins[0],
                                                      tuple(s for s in listings if s != symbol)))
        home = PREFERRED_LISTING.get(primary) or (us[0] if us and "." in primary and primary not in us else primary)
        preferred[primary] = home
        full = _key(stock["name"])
        short = full[1:] if full[:1] == ("the",) else full
        while len(short) > 1 and short[-1] in LEGAL_SUFFIXES:
            short = short[:-1]
        for key in {full, short}:
            short_names.setdefault(key, set()).add(home)
    for symbol, name in FUNDS:
        by_symbol[symbol] = SecurityInfo(symbol, name, (), "ETF", None, ())

    typed_names = {key: next(iter(symbols)) for key, symbols in short_names.items() if len(symbols) == 1}
    names: dict[tuple[str, ...], _Alias] = {}
    for key, symbol in typed_names.items():
        meaningful = [word for word in key if word not in CONNECTORS]
        if not meaningful or (len(key) == 1 and _is_ambiguous_ticker(key[0].upper(), english)):
            continue  # "BP", "GE": a name that is an ambiguous ticker follows the ticker rule
        if key in MARKET_NAMES:
            continue
        if len(key) == 1 and _is_english(key, english):
            continue  # a one-word English name counts only through COMMON_WORD_NAMES
        names[key] = _Alias(symbol, capitalised=_is_english(key, english))
    for spoken, symbol in SPOKEN_NAMES.items():
        key = _key(spoken)
        names[key] = _Alias(preferred[symbol], capitalised=_is_english(key, english))  # "Coke", "Meta"
        typed_names[key] = preferred[symbol]
    for word, (symbol, veto) in COMMON_WORD_NAMES.items():
        names[(word,)] = _Alias(preferred[symbol], capitalised=True, veto=veto)
        typed_names[(word,)] = preferred[symbol]
    first_words: dict[str, int] = {}
    for key in names:
        first_words[key[0]] = max(first_words.get(key[0], 0), len(key))
    bare = frozenset(symbol for symbol in by_symbol
                     if not _is_ambiguous_ticker(symbol, english) and (symbol.lower(),) not in MARKET_NAMES)
    return _Master(by_symbol, names, typed_names, first_words, bare)


def _is_english(key: tuple[str, ...], english: frozenset[str]) -> bool:
    return all(word in english for word in key if word not in CONNECTORS)


def _is_ambiguous_ticker(symbol: str, english: frozenset[str]) -> bool:
    if symbol in BARE_TICKERS:
        return False
    return len(symbol) <= 2 or symbol.lower() in english


def security_info(symbol: str) -> SecurityInfo | None:
    """What the master knows about a ticker (any listing of a company), or None."""
    return _master().by_symbol.get((symbol or "").strip().lstrip("$").upper())


def ref_for(symbol: str) -> EntityRef:
    info = security_info(symbol)
    return EntityRef("security", symbol, info.name if info else symbol)


def sector_of(symbol: str) -> str | None:
    info = security_info(symbol)
    return info.sector if info else None


def _name_matches(text: str) -> list[tuple[str, tuple[int, int]]]:
    master = _master()
    words = _words(text)
    found: list[tuple[str, tuple[int, int]]] = []
    i = 0
    while i < len(words):
        for length in range(min(master.first_words.get(words[i][0], 0), len(words) - i), 0, -1):
            alias = master.names.get(tuple(word for word, _, _ in words[i:i + length]))
            if alias is None:
                continue
            originals = [text[start:end] for _, start, end in words[i:i + length]]
            if alias.capitalised and not all(o[0].isupper() and not (len(o) > 1 and o.isupper())
                                             for o, (w, _, _) in zip(originals, words[i:i + length], strict=True)
                                             if w not in CONNECTORS):
                continue
            following = words[i + length][0] if i + length < len(words) else ""
            if following in alias.veto:
                continue
            found.append((alias.symbol, (words[i][1], words[i + length - 1][2])))
            i += length - 1
            break
        i += 1
    return found


def find_securities(text: str) -> list[tuple[EntityRef, tuple[int, int]]]:
    """Every security named in `text`, in order of appearance, with its character span."""
    return list(_remembered(text) if len(text) <= _REMEMBERED_CHARS else _securities_in(text))


_REMEMBERED_CHARS = 400  # texts remembered are short: at most 16,384 of them take a few MB


@lru_cache(maxsize=16_384)
def _remembered(text: str) -> tuple[tuple[EntityRef, tuple[int, int]], ...]:
    """The extractor asks for each turn and again for each of its sentences (a one-sentence turn is
    the same text), and stock phrases recur across sessions; the master is read once per process, so
    the answer for a text never changes."""
    return _securities_in(text)


def _securities_in(text: str) -> tuple[tuple[EntityRef, tuple[int, int]], ...]:
    master = _master()
    found: list[tuple[EntityRef, tuple[int, int]]] = []
    for match in TICKER.finditer(text):
        dollar, symbol = match.group(1), match.group(2)
        if symbol not in (master.by_symbol if dollar else master.bare_tickers):
            continue
        found.append((ref_for(symbol), match.span(2)))
    taken = [span for _, span in found]
    for symbol, span in _name_matches(text):
        if not any(start < span[1] and span[0] < end for start, end in taken):
            found.append((ref_for(symbol), span))
    found.sort(key=lambda item: item[1][0])
    return tuple(found)


def lookup_symbol(text: str) -> str | None:
    """A user-typed ticker or company name resolved to a known ticker, or None.

    Typed input is one name, so any unique company name counts here, also one that is an English
    word ("target", "pool"): free text gets the stricter rules of `find_securities`.
    """
    candidate = (text or "").strip().lstrip("$").upper()
    master = _master()
    if candidate in master.by_symbol:
        return candidate
    typed = master.typed_names.get(_key(text or ""))
    if typed:
        return typed
    matches = find_securities(text or "")
    return matches[0][0].key if matches else None
