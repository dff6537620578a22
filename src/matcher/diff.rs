//! Pairing expected lines with actual lines when they do not match, so that `rewritten` keeps
//! the expected text wherever it still holds, and the unified diff shown to the user.
//!
//! [`align`] is an edit-distance alignment: every expected item is paired with an actual line
//! (free when it matches, the caller's substitution cost otherwise), deleted, or, for a `...`
//! item, made to absorb any number of actual lines; leftover actual lines are inserted. Costs
//! compare in three tiers: first the edits (a deletion, insertion or substitution each count
//! one), then the expected lines left unmatched (so `b c` against `c d` keeps `c` rather than
//! substituting twice), then the lines hidden in a `...` (so `1 ... 5` against `1 2 3 4`
//! becomes `1 ... 4`, showing the last line, rather than dropping `5`). The
//! common prefix and suffix of matching lines are taken first (always optimal), so one drifted
//! line in a long output costs a dynamic programme over that line's neighbourhood only. The
//! programme is O(rows × lines) in time and needs one byte per cell; past [`LIMIT`] cells the
//! middle is given up as "all expected deleted, all actual inserted".

use similar::udiff::UnifiedHunkHeader;
use similar::DiffOp;
use std::ops::Range;

/// A whole edit in the first tier: deleting an expected line, inserting an actual one, or a
/// substitution (the callers may charge a substitution less, e.g. a table row with one cell
/// out of ten wrong).
pub(crate) const UNIT: u64 = 1 << 32;

/// A cost in the three tiers: edits (bits 64 and up), unmatched expected lines (bits 32 to 63),
/// lines absorbed by `...` (bits 0 to 31). [`LIMIT`] keeps the lower two from overflowing.
type Cost = u128;
const fn edits(units: u64) -> Cost {
    (units as Cost) << 64
}
const UNMATCHED: Cost = 1 << 32;
const ABSORB: Cost = 1;
const DELETE_COST: Cost = edits(UNIT) + UNMATCHED;
const INSERT_COST: Cost = edits(UNIT);
/// Largest dynamic programme (expected items × actual lines, after prefix and suffix).
pub(crate) const LIMIT: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Expected item paired with an actual line: a match or a substitution (ask the caller).
    Pair(usize, usize),
    /// The `...` item absorbs this actual line.
    Absorb(usize, usize),
    /// The `...` item is done (emitted once per `...`, also when it absorbed nothing).
    Skip(usize),
    /// Expected item with no actual counterpart.
    Delete(usize),
    /// Actual line with no expected counterpart.
    Insert(usize),
}

const PAIR: u8 = 0;
const DELETE: u8 = 1;
const INSERT: u8 = 2;
const SKIP: u8 = 3;
const ABSORB_LINE: u8 = 4;

/// Aligns `expected` items `0..m` with actual lines `0..n`. `pair(i, j)` is `Some(0)` when item
/// `i` matches line `j`, `Some(cost)` for a substitution (at most [`UNIT`]), `None` when they
/// cannot pair. `is_star(i)` marks `...` items, which are never paired or deleted.
pub(crate) fn align(
    m: usize,
    n: usize,
    is_star: impl Fn(usize) -> bool,
    mut pair: impl FnMut(usize, usize) -> Option<u64>,
) -> Vec<Op> {
    let mut prefix = 0;
    while prefix < m && prefix < n && !is_star(prefix) && pair(prefix, prefix) == Some(0) {
        prefix += 1;
    }
    let mut suffix = 0;
    while suffix < m - prefix
        && suffix < n - prefix
        && !is_star(m - 1 - suffix)
        && pair(m - 1 - suffix, n - 1 - suffix) == Some(0)
    {
        suffix += 1;
    }
    let mut ops: Vec<Op> = (0..prefix).map(|k| Op::Pair(k, k)).collect();
    let (rows, lines) = (m - prefix - suffix, n - prefix - suffix);
    if (rows + 1).saturating_mul(lines + 1) > LIMIT {
        ops.extend((prefix..m - suffix).map(Op::Delete));
        ops.extend((prefix..n - suffix).map(Op::Insert));
    } else {
        let shifted_star = |i: usize| is_star(i + prefix);
        let shifted_pair = |i: usize, j: usize| pair(i + prefix, j + prefix);
        for op in align_middle(rows, lines, shifted_star, shifted_pair) {
            ops.push(match op {
                Op::Pair(i, j) => Op::Pair(i + prefix, j + prefix),
                Op::Absorb(i, j) => Op::Absorb(i + prefix, j + prefix),
                Op::Skip(i) => Op::Skip(i + prefix),
                Op::Delete(i) => Op::Delete(i + prefix),
                Op::Insert(j) => Op::Insert(j + prefix),
            });
        }
    }
    ops.extend((0..suffix).rev().map(|k| Op::Pair(m - 1 - k, n - 1 - k)));
    ops
}

fn align_middle(
    m: usize,
    n: usize,
    is_star: impl Fn(usize) -> bool,
    mut pair: impl FnMut(usize, usize) -> Option<u64>,
) -> Vec<Op> {
    let width = n + 1;
    let mut choice = vec![0u8; m * width];
    // `next[j]`: cost of aligning items `i+1..` with lines `j..`; `cur[j]` the same from `i`.
    let mut next: Vec<Cost> = (0..=n).map(|j| (n - j) as Cost * INSERT_COST).collect();
    let mut cur: Vec<Cost> = vec![0; width];
    for i in (0..m).rev() {
        let star = is_star(i);
        for j in (0..=n).rev() {
            let best = if star {
                let mut best = (next[j], SKIP);
                if j < n && cur[j + 1] + ABSORB < best.0 {
                    best = (cur[j + 1] + ABSORB, ABSORB_LINE);
                }
                best
            } else {
                let mut best = (next[j] + DELETE_COST, DELETE);
                if j < n {
                    if let Some(weight) = pair(i, j) {
                        let cost = if weight == 0 {
                            0
                        } else {
                            edits(weight) + UNMATCHED
                        };
                        if cost + next[j + 1] <= best.0 {
                            best = (cost + next[j + 1], PAIR);
                        }
                    }
                    if cur[j + 1] + INSERT_COST < best.0 {
                        best = (cur[j + 1] + INSERT_COST, INSERT);
                    }
                }
                best
            };
            cur[j] = best.0;
            choice[i * width + j] = best.1;
        }
        std::mem::swap(&mut cur, &mut next);
    }
    let mut ops = Vec::with_capacity(m + n);
    let (mut i, mut j) = (0, 0);
    while i < m {
        match choice[i * width + j] {
            PAIR => {
                ops.push(Op::Pair(i, j));
                i += 1;
                j += 1;
            }
            DELETE => {
                ops.push(Op::Delete(i));
                i += 1;
            }
            INSERT => {
                ops.push(Op::Insert(j));
                j += 1;
            }
            SKIP => {
                ops.push(Op::Skip(i));
                i += 1;
            }
            _ => {
                ops.push(Op::Absorb(i, j));
                j += 1;
            }
        }
    }
    ops.extend((j..n).map(Op::Insert));
    ops
}

/// For each missing expected line, the index of the most similar candidate actual line
/// (similarity ratio at least one half), or `None`. `ordered`: picks must increase (contains);
/// otherwise any unused candidate (unordered).
pub(crate) fn pick_similar(
    missing: &[&str],
    candidates: &[&str],
    ordered: bool,
) -> Vec<Option<usize>> {
    /// Bounds the work on outputs with thousands of unmatched lines.
    const SCAN: usize = 500;
    let mut used = vec![false; candidates.len()];
    let mut from = 0;
    missing
        .iter()
        .map(|line| {
            let mut best: Option<(f32, usize)> = None;
            let start = if ordered { from } else { 0 };
            let open = (start..candidates.len()).filter(|&k| !used[k]).take(SCAN);
            for k in open {
                let ratio = similarity(line, candidates[k]);
                if ratio >= 0.5 && best.is_none_or(|(b, _)| ratio > b) {
                    best = Some((ratio, k));
                }
            }
            let (_, k) = best?;
            used[k] = true;
            from = k + 1;
            Some(k)
        })
        .collect()
}

fn similarity(a: &str, b: &str) -> f32 {
    const LONGEST: usize = 2_000;
    if a.len() > LONGEST || b.len() > LONGEST {
        return 0.0;
    }
    similar::TextDiff::from_chars(a, b).ratio()
}

/// One line of `rewritten`: an expected line kept as written, or new text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Emit {
    Kept(usize),
    New(String),
}

/// Unified diff (three lines of context, `similar`'s hunk grouping and headers) of the
/// normalised expected lines against the rewritten ones. The changes are the ones the
/// comparison found, not a fresh line diff: kept lines are equal, expected lines not kept are
/// deleted and new lines are inserted. That shows drift exactly where the matcher saw it, and
/// costs O(lines), where a Myers diff of a short expected text against a huge rewrite is
/// quadratic.
pub(crate) fn unified(expected: &[&str], emitted: &[Emit], rewritten: &[&str]) -> String {
    let groups = similar::group_diff_ops(diff_ops(expected.len(), emitted), 3);
    if groups.is_empty() {
        return String::new();
    }
    let mut out = String::from("--- expected\n+++ actual\n");
    for group in groups {
        out.push_str(&UnifiedHunkHeader::new(&group).to_string());
        out.push('\n');
        for op in group {
            let (tag, lines) = match op {
                DiffOp::Equal { old_index, len, .. } => {
                    (' ', &expected[old_index..old_index + len])
                }
                DiffOp::Delete {
                    old_index, old_len, ..
                } => ('-', &expected[old_index..old_index + old_len]),
                DiffOp::Insert {
                    new_index, new_len, ..
                } => ('+', &rewritten[new_index..new_index + new_len]),
                DiffOp::Replace { .. } => unreachable!("diff_ops makes no replacements"),
            };
            for line in lines {
                out.push(tag);
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

fn diff_ops(expected_len: usize, emitted: &[Emit]) -> Vec<DiffOp> {
    let mut ops = Vec::new();
    let mut old = 0;
    // New lines since the last kept one: (first index in rewritten, count).
    let mut pending: Option<(usize, usize)> = None;
    for (new, line) in emitted.iter().enumerate() {
        match *line {
            Emit::Kept(k) => {
                debug_assert!(k >= old, "kept lines are in expected order");
                push_change(&mut ops, old..k, pending.take(), new);
                match ops.last_mut() {
                    Some(DiffOp::Equal {
                        old_index,
                        new_index,
                        len,
                    }) if *old_index + *len == k && *new_index + *len == new => *len += 1,
                    _ => ops.push(DiffOp::Equal {
                        old_index: k,
                        new_index: new,
                        len: 1,
                    }),
                }
                old = k + 1;
            }
            Emit::New(_) => match &mut pending {
                Some((_, count)) => *count += 1,
                None => pending = Some((new, 1)),
            },
        }
    }
    push_change(&mut ops, old..expected_len, pending, emitted.len());
    ops
}

/// The change between two kept lines: deleted expected lines, then inserted new ones (the
/// order a reader expects, whatever order the comparison met them in).
fn push_change(
    ops: &mut Vec<DiffOp>,
    deleted: Range<usize>,
    inserted: Option<(usize, usize)>,
    next_new: usize,
) {
    let new_index = inserted.map_or(next_new, |(first, _)| first);
    if !deleted.is_empty() {
        ops.push(DiffOp::Delete {
            old_index: deleted.start,
            old_len: deleted.len(),
            new_index,
        });
    }
    if let Some((first, count)) = inserted {
        ops.push(DiffOp::Insert {
            old_index: deleted.end,
            new_index: first,
            new_len: count,
        });
    }
}
