"""The Merkle tree against published answers, and its proofs against every way of tampering with them.

The known answers are not ours. They are the Certificate Transparency vectors as transparency-dev/merkle keeps
them. The leaves, roots and node hashes come from testonly/constants.go (commit
582a6ad190b6848f1d26f8bf08ddef29955d9db1). The inclusion and consistency proofs come from
testonly/reference_test.go (commit 141d627eab770a7e9a2514f46a8b6338e6d90874).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shengjing.errors import InvalidInput
from shengjing.registry import merkle
from shengjing.registry.merkle import ProofError

LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                      "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # size 0: SHA-256 of nothing
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# Every complete perfect subtree of the 8-leaf tree, by level (NodeHashes in constants.go).
NODES = [
    ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"],
    ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"],
    ["d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]  # fmt: skip
INCLUSION = {  # (leaf index, tree size): proof
    (0, 1): [],
    (0, 2): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
    (1, 2): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip
CONSISTENCY = {  # (old size, new size): proof
    (1, 1): [],
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip


def _store(leaf_hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every perfect subtree of a tree built by appending all leaves at once, as a log stores them."""
    store = {(0, index): digest for index, digest in enumerate(leaf_hashes)}
    added = merkle.appended_nodes(0, leaf_hashes, _getter({}))  # an empty tree has nothing to read
    store.update(((level, index), digest) for level, index, digest in added)
    return store


def _getter(store: dict[tuple[int, int], bytes]) -> merkle.NodeGetter:
    return lambda level, index: store[(level, index)]


REFERENCE = _store([merkle.leaf_hash(leaf) for leaf in LEAVES])


def test_leaf_and_node_hashes_are_rfc_9162() -> None:
    assert merkle.leaf_hash(b"").hex() == ROOTS[1]
    assert merkle.EMPTY_ROOT.hex() == ROOTS[0]
    assert merkle.node_hash(bytes.fromhex(NODES[0][0]), bytes.fromhex(NODES[0][1])).hex() == NODES[1][0]


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_published_ones(size: int) -> None:
    leaf_hashes = [merkle.leaf_hash(leaf) for leaf in LEAVES[:size]]
    assert merkle.root(leaf_hashes).hex() == ROOTS[size]
    assert merkle.tree_root(size, _getter(REFERENCE)).hex() == ROOTS[size]


def test_the_stored_subtrees_are_the_published_node_hashes() -> None:
    published = {(level, index): h for level, row in enumerate(NODES) for index, h in enumerate(row)}
    assert {node: digest.hex() for node, digest in REFERENCE.items()} == published


@pytest.mark.parametrize(("index", "size"), INCLUSION)
def test_inclusion_proofs_match_the_published_ones(index: int, size: int) -> None:
    proof = merkle.inclusion_proof(index, size, _getter(REFERENCE))
    assert [p.hex() for p in proof] == INCLUSION[index, size]
    merkle.verify_inclusion(REFERENCE[0, index], index, size, proof, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("old", "new"), CONSISTENCY)
def test_consistency_proofs_match_the_published_ones(old: int, new: int) -> None:
    proof = merkle.consistency_proof(old, new, _getter(REFERENCE))
    assert [p.hex() for p in proof] == CONSISTENCY[old, new]
    merkle.verify_consistency(old, new, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), proof)


def test_impossible_requests_and_malformed_proofs_are_refused_in_both_languages() -> None:
    with pytest.raises(InvalidInput):
        merkle.inclusion_ranges(8, 8)
    with pytest.raises(InvalidInput):
        merkle.consistency_ranges(5, 4)
    root8 = bytes.fromhex(ROOTS[8])
    with pytest.raises(ProofError) as raised:
        merkle.verify_inclusion(REFERENCE[0, 0], 8, 8, [], root8)
    assert raised.value.message_zh and raised.value.message_en
    with pytest.raises(ProofError):  # a hash of the wrong length
        merkle.verify_inclusion(REFERENCE[0, 0], 0, 8, [b"\x00" * 31, REFERENCE[1, 1], REFERENCE[2, 1]], root8)
    with pytest.raises(ProofError):  # from the empty tree nothing is to prove, and nothing may be sent
        merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, root8, [root8])
    with pytest.raises(ProofError):  # a tree of size 0 has the empty root, not another
        merkle.verify_consistency(0, 8, root8, root8, [])
    with pytest.raises(ProofError):  # equal sizes need equal roots
        merkle.verify_consistency(8, 8, bytes.fromhex(ROOTS[7]), root8, [])


def test_a_proof_cut_at_or_carried_past_a_subtree_root_is_refused() -> None:
    """The hashes of such a proof do reach the root offered, the root of a smaller or larger tree; only the
    RFC's count of levels (sn) shows that the tree size claimed is not the one the proof was made for."""
    root = {size: bytes.fromhex(ROOTS[size]) for size in (1, 4, 8)}
    inclusion, consistency = INCLUSION[0, 8], CONSISTENCY[1, 8]
    with pytest.raises(ProofError, match="too short"):
        merkle.verify_inclusion(REFERENCE[0, 0], 0, 8, [bytes.fromhex(h) for h in inclusion[:2]], root[4])
    with pytest.raises(ProofError, match="too long"):
        merkle.verify_inclusion(REFERENCE[0, 0], 0, 4, [bytes.fromhex(h) for h in inclusion], root[8])
    with pytest.raises(ProofError, match="too short"):
        merkle.verify_consistency(1, 8, root[1], root[4], [bytes.fromhex(h) for h in consistency[:2]])
    with pytest.raises(ProofError, match="too long"):
        merkle.verify_consistency(1, 4, root[1], root[8], [bytes.fromhex(h) for h in consistency])


# --- properties, over trees of up to 300 leaves ----------------------------------------------------------------

PROPERTIES = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def trees(draw: st.DrawFn, min_size: int = 1) -> tuple[list[bytes], dict[tuple[int, int], bytes]]:
    """Distinct leaves (so that no two positions hold the same leaf hash), and every stored subtree."""
    size = draw(st.integers(min_size, 300))
    salt = draw(st.binary(max_size=8))
    leaf_hashes = [merkle.leaf_hash(salt + index.to_bytes(4, "big")) for index in range(size)]
    return leaf_hashes, _store(leaf_hashes)


def _flip(value: bytes, position: int) -> bytes:
    position %= len(value)
    return value[:position] + bytes([value[position] ^ 0x01]) + value[position + 1 :]


@PROPERTIES
@given(trees())
def test_every_inclusion_proof_verifies(tree: tuple[list[bytes], dict[tuple[int, int], bytes]]) -> None:
    leaf_hashes, store = tree
    size, root = len(leaf_hashes), merkle.root(leaf_hashes)
    assert merkle.tree_root(size, _getter(store)) == root
    for index in range(size):
        proof = merkle.inclusion_proof(index, size, _getter(store))
        merkle.verify_inclusion(leaf_hashes[index], index, size, proof, root)


@PROPERTIES
@given(trees(), st.data())
def test_every_consistency_proof_verifies(
    tree: tuple[list[bytes], dict[tuple[int, int], bytes]], data: st.DataObject
) -> None:
    leaf_hashes, store = tree
    new = data.draw(st.integers(0, len(leaf_hashes)), label="new")
    new_root = merkle.root(leaf_hashes[:new])
    for old in range(new + 1):
        proof = merkle.consistency_proof(old, new, _getter(store))
        merkle.verify_consistency(old, new, merkle.root(leaf_hashes[:old]), new_root, proof)


@PROPERTIES
@given(trees(), st.data())
def test_a_tampered_inclusion_proof_never_verifies(
    tree: tuple[list[bytes], dict[tuple[int, int], bytes]], data: st.DataObject
) -> None:
    leaf_hashes, store = tree
    size, root = len(leaf_hashes), merkle.root(leaf_hashes)
    index = data.draw(st.integers(0, size - 1), label="index")
    leaf, proof = leaf_hashes[index], merkle.inclusion_proof(index, size, _getter(store))
    at = data.draw(st.integers(0, 31), label="byte")
    tampered: list[tuple[bytes, int, list[bytes], bytes]] = [
        (_flip(leaf, at), index, proof, root),
        (leaf, index, proof, _flip(root, at)),
        (leaf, (index + data.draw(st.integers(1, size), label="shift")) % (size + 1), proof, root),
        (leaf, index, proof[:-1], root),
        (leaf, index, [*proof, root], root),
    ]
    tampered += [(leaf, index, [*proof[:k], _flip(proof[k], at), *proof[k + 1 :]], root) for k in range(len(proof))]
    for bad_leaf, bad_index, bad_proof, bad_root in tampered:
        if (bad_index, bad_proof) == (index, proof) and (bad_leaf, bad_root) == (leaf, root):
            continue  # proof[:-1] of an empty proof is the proof itself
        with pytest.raises(ProofError):
            merkle.verify_inclusion(bad_leaf, bad_index, size, bad_proof, bad_root)


@PROPERTIES
@given(trees(min_size=2), st.data())
def test_a_tampered_consistency_proof_never_verifies(
    tree: tuple[list[bytes], dict[tuple[int, int], bytes]], data: st.DataObject
) -> None:
    leaf_hashes, store = tree
    new = data.draw(st.integers(2, len(leaf_hashes)), label="new")
    old = data.draw(st.integers(1, new - 1), label="old")  # old = 0 and old = new have empty proofs: see above
    old_root, new_root = merkle.root(leaf_hashes[:old]), merkle.root(leaf_hashes[:new])
    proof = merkle.consistency_proof(old, new, _getter(store))
    at = data.draw(st.integers(0, 31), label="byte")
    tampered = [
        (_flip(old_root, at), new_root, proof),
        (old_root, _flip(new_root, at), proof),
        (old_root, new_root, proof[:-1]),
        (old_root, new_root, [*proof, new_root]),
    ]
    tampered += [(old_root, new_root, [*proof[:k], _flip(proof[k], at), *proof[k + 1 :]]) for k in range(len(proof))]
    for bad_old_root, bad_new_root, bad_proof in tampered:
        with pytest.raises(ProofError):
            merkle.verify_consistency(old, new, bad_old_root, bad_new_root, bad_proof)


@PROPERTIES
@given(trees(), st.data())
def test_appending_in_batches_stores_the_same_tree_as_appending_at_once(
    tree: tuple[list[bytes], dict[tuple[int, int], bytes]], data: st.DataObject
) -> None:
    leaf_hashes, whole = tree
    cuts = sorted(data.draw(st.sets(st.integers(1, len(leaf_hashes) - 1) if len(leaf_hashes) > 1 else st.nothing())))
    store: dict[tuple[int, int], bytes] = {}
    read: set[tuple[int, int]] = set()

    def getter(level: int, index: int) -> bytes:
        read.add((level, index))
        return store[(level, index)]

    for start, end in zip([0, *cuts], [*cuts, len(leaf_hashes)], strict=True):
        read.clear()
        added = merkle.appended_nodes(start, leaf_hashes[start:end], getter)
        assert read <= set(merkle.frontier(start))  # an append reads nothing of the old tree but its frontier
        store.update(((0, start + offset), digest) for offset, digest in enumerate(leaf_hashes[start:end]))
        store.update(((level, index), digest) for level, index, digest in added)
    assert store == whole
