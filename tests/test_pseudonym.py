"""Pseudonyms: HMAC-SHA-256 (RFC 2104) in DuckDB's SQL, held to RFC 4231 and to fixed values."""

from __future__ import annotations

import hashlib
import hmac
import string

import duckdb
import pytest

from dip_sim.ingest.pseudonym import (
    SCHEME,
    hmac_sha256_sql,
    key_fingerprint,
    pseudonym,
    pseudonym_sql,
    set_pseudonym_key,
)

# RFC 4231 §4.2–4.8, test cases 1–7: key, data and HMAC-SHA-256 as the RFC gives them
# (test case 5 gives only the first 128 bits: the truncation the pseudonyms use)
RFC_4231 = [
    pytest.param(b"\x0b" * 20, b"Hi There",
                 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", id="case1"),
    pytest.param(b"Jefe", b"what do ya want for nothing?",
                 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", id="case2"),
    pytest.param(b"\xaa" * 20, b"\xdd" * 50,
                 "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", id="case3"),
    pytest.param(bytes(range(0x01, 0x1a)), b"\xcd" * 50,
                 "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", id="case4"),
    pytest.param(b"\x0c" * 20, b"Test With Truncation",
                 "a3b6167473100ee06e0c796c2955552b", id="case5"),
    pytest.param(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
                 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", id="case6"),
    pytest.param(b"\xaa" * 131,
                 b"This is a test using a larger than block-size key and a larger than block-size"
                 b" data. The key needs to be hashed before being used by the HMAC algorithm.",
                 "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", id="case7"),
]

# fixed pseudonyms of fixed identifiers under fixed keys (Python's hmac agrees): a warehouse's
# patients link across loads only while these stay byte for byte the same
IDS = ["P0000000001", "患者-张三", "", None, "11010519491231002X",
       (string.ascii_lowercase * 12)[:300]]
RECORDED = {
    "dip-sim test key": [
        "0044f83737e5cf8a64b0153da1ecc6da", "99ae35c2852e59200c84b6f486939f25",
        "926930fe0007818fbf9781565742754a", None, "4699e61a391421c772f491d86e55ecc2",
        "57b83e0b0da121663d0d93cea915ffb4"],
    "long key " * 10: [  # 90 bytes: longer than the block, hashed first (RFC 2104 §2)
        "c1554cc12d2ca71c57567d3b9bec0c56", "a93f6b68833dcebc36591ba66e37604f",
        "491b105f8765b391b99f8ce6120d3063", None, "f0133dc2cbb0150bfdee8318403473d0",
        "0cec12dabf991a11321580ee29960979"],
    "假名化密钥-2024": [  # Chinese characters: the key is taken as UTF-8
        "bdf7e86f2c7348b310f915f9812c5302", "ab65fe9ce3abff3045d754f334e90592",
        "702640faf05eabd4fc10636f8691ccfa", None, "eb33f0f3c8e065ca286d6b0673a3ac0b",
        "215bc3e781d75ffc4050cdaf57852b99"],
}


def _pseudonyms(key: str | bytes, ids: list[str | None]) -> list[str | None]:
    """The pseudonyms the SQL gives ``ids`` under ``key``, in order."""
    con = duckdb.connect()
    set_pseudonym_key(con, key)
    rows = con.execute(f"SELECT {pseudonym_sql('i')} FROM unnest(?) WITH ORDINALITY t(i, n) "
                       "ORDER BY n", [ids]).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize(("key", "data", "expected"), RFC_4231)
def test_rfc_4231_vectors(key, data, expected):
    con = duckdb.connect()
    set_pseudonym_key(con, key)
    got = con.execute(f"SELECT {hmac_sha256_sql('?::BLOB')}", [data]).fetchone()[0]
    assert got[:len(expected)] == expected
    assert hmac.new(key, data, hashlib.sha256).hexdigest()[:len(expected)] == expected


def test_rfc_4231_truncated_vector_is_a_pseudonym():
    # test case 5's 128 bits are exactly what pseudonym_sql keeps of a text identifier
    key, data, expected = RFC_4231[4].values
    assert _pseudonyms(key, [data.decode()]) == [expected]


@pytest.mark.parametrize("key", list(RECORDED))
def test_pseudonyms_are_those_recorded(key):
    assert _pseudonyms(key, IDS) == RECORDED[key]
    assert [None if i is None else pseudonym(key, i) for i in IDS] == RECORDED[key]


def test_key_fingerprint_is_that_recorded():
    # what existing warehouses store to recognise their key
    assert SCHEME == "hmac-sha256/128"
    assert key_fingerprint("dip-sim test key") == \
        "12d4e4742792839bd53eab5f737e0a271c661c5a90dec6a714ebb5d8d6644f0c"


@pytest.mark.parametrize("key", ["k", "密钥-中文", "x" * 64, "a long key " * 10])
def test_pseudonym_sql_is_python_hmac(key):
    # short, non-ASCII, exactly one block, and longer than a block (hashed first: RFC 2104 §2);
    # identifiers around the SHA-256 padding boundary (55/56 bytes) and beyond one block
    ids = [None, "P0000000001", "患者-42", "", " x ", "y" * 55, "y" * 56, "z" * 64, "x" * 200]
    ids += [f"P{i}" for i in range(5000)]  # more than one DuckDB chunk (2,048 rows)
    assert _pseudonyms(key, ids) == [
        None if i is None else hmac.new(key.encode(), i.encode(), hashlib.sha256).hexdigest()[:32]
        for i in ids]


def test_null_same_and_other_key():
    ids = [None, "P1", "P2", "P1", None]
    first = _pseudonyms("key one", ids)
    assert first[0] is None and first[4] is None  # NULL in, NULL out
    assert first[1] == first[3] != first[2]  # the same identifier, the same pseudonym
    assert _pseudonyms("key one", ids) == first  # and in another load
    other = _pseudonyms("key two", ids)
    assert other[0] is None
    assert all(a != b for a, b in zip(first[1:4], other[1:4], strict=True))
