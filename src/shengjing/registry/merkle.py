"""The Merkle tree of the registry's transparency log (透明日志), hashed exactly as RFC 9162 §2.1 specifies.

A leaf hash is SHA-256(0x00 || entry) and a node hash SHA-256(0x01 || left || right). The empty tree's root
is SHA-256 of the empty string, and a tree of n > 1 leaves splits at the largest power of two smaller than n.
So anyone with a checkpoint can check our proofs with any RFC 9162 / RFC 6962 verifier, and we can check theirs.

These are pure functions with no database. A log never rebuilds its tree to answer a question. Once a perfect
subtree is complete, its hash never changes, so the log stores it. ``node_getter(level, index)`` returns the
hash of the perfect subtree of 2**level leaves that starts at leaf index * 2**level. Every hash a proof or a
root needs is the hash of a leaf range [start, end) named by the RFC's recursion. Such a range is a run of
perfect subtrees of decreasing size (``subtrees``), folded right to left (``range_hash``). So a proof in a
tree of ten million entries reads a few dozen stored hashes, and no more as the tree grows.

This module is written by hand. No maintained Python library makes RFC 9162 proofs over a store of subtree
hashes: the Python CT packages either only verify or rebuild the whole tree in memory. The verifiers follow
RFC 9162 §2.1.3.2 and §2.1.4.2 step by step, so that a reader can hold them against the RFC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from shengjing.errors import IntegrityBroken, InvalidInput

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, index): the perfect subtree of 2**level leaves from leaf index * 2**level
Range = tuple[int, int]  # the leaves [start, end)
NodeGetter = Callable[[int, int], bytes]


class ProofError(IntegrityBroken):
    """A proof, a root or a hash does not verify: the log, or whoever passed the proof on, cannot be trusted."""

    code = "proof_invalid"


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes held in memory.

    The tree is built bottom up: each level is paired off, and an odd last node is carried up unchanged. That
    gives the RFC's tree, because the RFC's left part is always the largest perfect subtree."""
    if not leaf_hashes:
        return EMPTY_ROOT
    row = list(leaf_hashes)
    while len(row) > 1:
        paired = [node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        row = [*paired, row[-1]] if len(row) % 2 else paired
    return row[0]


# --- the shape of the tree: which stored perfect subtrees a range, a proof or an append needs -------------------


def subtrees(start: int, end: int) -> list[Node]:
    """The perfect subtrees that make up the leaves [start, end), largest first.

    For the ranges the RFC's recursion names (``start`` is a multiple of a power of two that is at least
    ``end - start``), these subtrees are the range's own shape in the tree."""
    found = []
    while start < end:
        level = (end - start).bit_length() - 1  # the largest subtree that fits …
        if start:
            level = min(level, (start & -start).bit_length() - 1)  # … and is aligned where it starts
        found.append((level, start >> level))
        start += 1 << level
    return found


def frontier(size: int) -> list[Node]:
    """The perfect subtrees along the right edge of a tree of ``size`` leaves, largest first.

    They are all that an append needs from the old tree, and the root is their fold."""
    return subtrees(0, size)


def range_hash(start: int, end: int, node_getter: NodeGetter) -> bytes:
    """MTH(D[start:end]) from stored subtree hashes: the fold of ``subtrees(start, end)``, right to left."""
    nodes = subtrees(start, end)
    if not nodes:
        return EMPTY_ROOT
    folded = node_getter(*nodes[-1])
    for node in reversed(nodes[:-1]):
        folded = node_hash(node_getter(*node), folded)
    return folded


def tree_root(size: int, node_getter: NodeGetter) -> bytes:
    """The root of the first ``size`` leaves of a stored tree."""
    return range_hash(0, size, node_getter)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose hashes make up PATH(index, D[size]) (RFC 9162 §2.1.3.1), bottom first."""
    if not 0 <= index < size:
        raise InvalidInput(
            f"包含证明的叶子序号 {index} 不在大小为 {size} 的树内。",
            f"Leaf index {index} is not in a tree of size {size}.",
            index=index,
            size=size,
        )
    path = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:  # the leaf is on the left: the right part is its sibling
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
    return path[::-1]


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The leaf ranges whose hashes make up PROOF(old, D[new]) (RFC 9162 §2.1.4.1), bottom first.

    The proof is empty for an empty old tree or for two equal sizes."""
    if not 0 <= old <= new:
        raise InvalidInput(
            f"一致性证明的树大小无效：旧 {old}，新 {new}（须 0 ≤ 旧 ≤ 新）。",
            f"Invalid tree sizes for a consistency proof: old {old}, new {new} (need 0 ≤ old ≤ new).",
            old=old,
            new=new,
        )
    if old in (0, new):
        return []
    path = []
    lo, hi = 0, new
    whole = True  # SUBPROOF's b: the subtree [lo, hi) is still the one whose root the old checkpoint holds
    while old != hi:
        k = _split(hi - lo)
        if old <= lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
            whole = False
    if not whole:
        path.append((lo, hi))
    return path[::-1]


def nodes_of(ranges: Iterable[Range]) -> list[Node]:
    """Every stored perfect subtree that the hashes of these ranges read, so a store can fetch them at once."""
    return [node for start, end in ranges for node in subtrees(start, end)]


def inclusion_proof(index: int, size: int, node_getter: NodeGetter) -> list[bytes]:
    """The audit path of leaf ``index`` (0-based) in the tree of the first ``size`` leaves."""
    return [range_hash(start, end, node_getter) for start, end in inclusion_ranges(index, size)]


def consistency_proof(old: int, new: int, node_getter: NodeGetter) -> list[bytes]:
    """The proof that the tree of ``new`` leaves extends the tree of its first ``old`` leaves."""
    return [range_hash(start, end, node_getter) for start, end in consistency_ranges(old, new)]


def appended_nodes(size: int, leaf_hashes: Sequence[bytes], node_getter: NodeGetter) -> list[tuple[int, int, bytes]]:
    """The perfect subtrees of level 1 and up that are completed by appending ``leaf_hashes`` to a tree of
    ``size`` leaves, as (level, index, hash), level by level.

    From the old tree it reads only the frontier nodes (``frontier(size)``), through ``node_getter``. So an
    append costs about one hash per new leaf, whatever the size of the tree."""
    completed: list[tuple[int, int, bytes]] = []
    level, first, row = 0, size, list(leaf_hashes)
    while row:
        if first % 2:  # row[0] is a right child: its left sibling is on the frontier, stored already
            row.insert(0, node_getter(level, first - 1))
            first -= 1
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row) - 1, 2)]
        level, first = level + 1, first // 2
        completed.extend((level, first + offset, digest) for offset, digest in enumerate(row))
    return completed


# --- verification: RFC 9162 §2.1.3.2 and §2.1.4.2 ----------------------------------------------------------------


def _check_hashes(*hashes: bytes) -> None:
    for value in hashes:
        if not isinstance(value, bytes) or len(value) != HASH_SIZE:
            raise ProofError(
                f"哈希值应为 {HASH_SIZE} 字节的 SHA-256。",
                f"A hash is not a {HASH_SIZE}-byte SHA-256 value.",
            )


def _shift_until_odd_or_zero(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``proof`` proves leaf ``index`` (with hash ``leaf_hash``) is in the tree of ``size`` leaves
    whose root is ``root``, as RFC 9162 §2.1.3.2 says. Raises ProofError if it does not."""
    _check_hashes(leaf_hash, root, *proof)
    details = {"index": index, "size": size}
    if not 0 <= index < size:  # step 1
        raise ProofError(
            f"叶子序号 {index} 不在大小为 {size} 的树内。",
            f"Leaf index {index} is not in a tree of size {size}.",
            **details,
        )
    fn, sn = index, size - 1  # step 2
    r = leaf_hash  # step 3
    for p in proof:  # step 4
        if sn == 0:  # 4a: more hashes than the path has levels
            raise ProofError("包含证明过长。", "The inclusion proof is too long.", **details)
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            if not fn & 1:
                fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1  # 4c
    if sn != 0:  # step 5
        raise ProofError("包含证明过短。", "The inclusion proof is too short.", **details)
    if r != root:
        raise ProofError(
            "包含证明不成立：算出的根哈希与树头不符。",
            "The inclusion proof does not verify: the computed root differs from the tree head's.",
            **details,
        )


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that ``proof`` proves the tree (``new_size``, ``new_root``) extends the tree (``old_size``,
    ``old_root``), as RFC 9162 §2.1.4.2 says. Raises ProofError if it does not.

    RFC 9162 covers 0 < old < new. For old = new, the proof must be empty and the roots equal. For old = 0,
    the proof must be empty and the old root must be the empty tree's, since every tree extends the empty
    tree."""
    _check_hashes(old_root, new_root, *proof)
    details = {"old": old_size, "new": new_size}
    if not 0 <= old_size <= new_size:
        raise ProofError(
            f"树大小无效：旧 {old_size}，新 {new_size}。",
            f"Invalid tree sizes: old {old_size}, new {new_size}.",
            **details,
        )
    if old_size in (0, new_size):
        expected = EMPTY_ROOT if old_size == 0 else new_root
        if proof or old_root != expected:
            raise ProofError(
                "一致性证明不成立：两棵树应当相同（或旧树为空）。",
                "The consistency proof does not verify: the trees should be the same (or the old one empty).",
                **details,
            )
        return
    if not proof:  # step 1
        raise ProofError("一致性证明为空。", "The consistency proof is empty.", **details)
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: the old tree is a perfect subtree: its root starts the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a
            raise ProofError("一致性证明过长。", "The consistency proof is too long.", **details)
        if fn & 1 or fn == sn:  # 6b
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1  # 6c
    if sn != 0:  # step 7
        raise ProofError("一致性证明过短。", "The consistency proof is too short.", **details)
    if fr != old_root or sr != new_root:
        raise ProofError(
            "一致性证明不成立：算出的根哈希与树头不符。",
            "The consistency proof does not verify: a computed root differs from its tree head's.",
            **details,
        )
