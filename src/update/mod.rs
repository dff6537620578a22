//! `runbook update`: after a run, splice what was seen into the expected blocks that drifted,
//! keeping every other byte of the file (STYLE: trycmd's splice, never a regenerated document).
//!
//! [`plan`] reads the workspace and the run's results and decides, step by step, what to
//! rewrite; [`splice`] turns each decision into byte-range edits; [`write`] puts the new text
//! on disk atomically, refusing a file that changed since it was read. The CLI glue
//! (`cli/update.rs`) prints and picks the exit status.
//!
//! # What is rewritten
//!
//! - The expected lines of each check that drifted, with the matcher's `rewritten` text (the
//!   actual output in the expected's terms: `...`, `[..]`, ` (re)` lines, ignored and
//!   in-tolerance table cells that still match stay as written). A line diff between the
//!   lines as written and that text decides which physical lines change; lines it keeps are not
//!   touched, not even their trailing white space. Trailing blank lines of an `output` block
//!   stay. New lines take the prefix of the block's first non-blank body line (list
//!   indentation, `> `) and the line ending of the opening fence line (LF or CRLF). An empty
//!   expected block gets its lines inserted where they belong ([`crate::doc::Expected::at`]).
//! - With `--exit`, the `exit=` attribute of a step whose exit status drifted: its value is
//!   replaced, or `exit=N` is added inside the braces (`{#id exit=1}`), after unbraced
//!   attributes (`console on=x exit=1`), or as ` {exit=N}` when there are none.
//! - Each translation loaded with the source gets the same new text in the same block (found
//!   by position among the blocks a translation must share, SPEC §2), with its own prefix and
//!   line endings. A source and its translations are written together or not at all.
//!
//! # What is left as written (and makes the exit status 1)
//!
//! - A step whose exit status drifted, without `--exit`: reported as `PATH:LINE:COL: exit
//!   status drifted: expected 0, got 1 (use --exit to rewrite)`. Its output is left too: output
//!   of a command that failed is usually an error message, not the new truth.
//! - A transcript whose command before the last one exited non-zero: only the last command
//!   can carry another status, so even `--exit` cannot record it (split the block).
//! - Hosts that disagree: the first drifted host's text (hosts in plan order) is written, with
//!   a warning naming the hosts that printed something else; `run` would still drift on them.
//! - An expected block that cannot be rewritten safely: an unclosed fence, lines CommonMark
//!   rewrote (a tab in a list item), output with a line that would read as a transcript
//!   command (`$ `, `# `, `> ` — move it to `sh` + `output`) or would close the fence, a
//!   script checked with `match=` but with no `output` block to hold the text.
//! - File and diff steps that failed, and steps skipped by an unmet `requires`.
//!
//! Steps that errored (timeout, unreachable host) on any host are never rewritten; the exit
//! status is then 3. Before writing, the new text is parsed again and must hold the same blocks
//! and steps, lint clean, with exactly the intended expected text and `exit=`; otherwise its
//! file (and translations) is left alone with a note.
//!
//! `update` runs with `--keep-going` implied: a drift it is about to fix should not hide the
//! blocks after it, so one `update` fixes every drifted block of a runbook.
//!
//! # Exit status
//!
//! 0 when every drift was rewritten and nothing errored; 1 when drift remains that was not
//! rewritten (see above); 2 for bad input, and when a file changed on disk during the run
//! (it is not overwritten); 3 when a step could not execute. The worst wins. `--dry-run`
//! prints the unified diff of each file instead of writing it and exits as `update` would.

pub mod splice;
#[cfg(test)]
mod tests;
pub mod write;

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::diag::{Diagnostic, Severity};
use crate::doc::{self, Action, ExitSpec, Expected, Role, Runbook, Step};
use crate::lint::Workspace;
use crate::matcher::normalize;
use crate::outcome::{RunbookResult, SkipReason, Status, StepResult};
use crate::source::{SourceFile, Span};

use splice::{Edit, Refusal};

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `--exit`: also rewrite drifted `exit=` attributes.
    pub exit: bool,
}

/// What `update` decided after a run.
#[derive(Debug, Default)]
pub struct Update {
    /// For each source runbook with something to rewrite: the source's change first, then its
    /// translations'. A group is written whole or not at all.
    pub groups: Vec<Vec<FileChange>>,
    /// Drift left as written, hosts disagreeing: printed on standard error.
    pub notes: Vec<Diagnostic>,
    /// Some drift is not rewritten by this update.
    pub remaining: bool,
}

/// One file's new text.
#[derive(Debug)]
pub struct FileChange {
    /// The file as it was read before the run.
    pub file: Arc<SourceFile>,
    /// Relative to the project folder, with `/` (`runbooks/x.md`).
    pub shown: String,
    pub new_text: String,
    /// How many fenced blocks changed.
    pub blocks: usize,
}

/// One thing to rewrite in a step.
#[derive(Debug, Clone)]
enum Change {
    /// Expectation `index` of the step gets this text.
    Output { index: usize, text: String },
    /// The step's `exit=` becomes this.
    Exit(i32),
}

/// Edits planned for one file, and what the new text must say once they are applied.
#[derive(Default)]
struct Pending {
    edits: Vec<Edit>,
    blocks: BTreeSet<usize>,
    intents: Vec<(usize, Change)>,
}

/// Decides what to rewrite from a run's results.
pub fn plan(ws: &Workspace, results: &[RunbookResult], opts: Options) -> Update {
    let mut up = Update::default();
    for rr in results {
        let Some(si) = ws.runbooks.iter().position(|rb| ws.rel_path(rb) == rr.path) else {
            continue;
        };
        let rb = &ws.runbooks[si];
        let translations: Vec<(&str, &Runbook)> = ws
            .translations
            .iter()
            .filter(|(_, s, _)| *s == si)
            .map(|(lang, _, t)| (lang.as_str(), t))
            .collect();
        let mut pending: Vec<Pending> = (0..=translations.len())
            .map(|_| Pending::default())
            .collect();
        for (k, step) in rb.steps.iter().enumerate() {
            let res: Vec<&StepResult> = rr.steps.iter().filter(|r| r.id == step.id).collect();
            for change in decide(rb, step, &res, opts, &mut up) {
                stage(rb, k, &change, &translations, &mut pending, &mut up);
            }
        }
        let group = finish(ws, rb, &translations, pending, &mut up);
        if !group.is_empty() {
            up.groups.push(group);
        }
    }
    up
}

/// How a host's exit status drifted.
enum ExitDrift {
    None,
    /// The step's (last) command: `exit=` can record it.
    Last(i32),
    /// Command `n` of a transcript, not the last, exited non-zero.
    Inner(usize, i32),
}

fn exit_drift(step: &Step, r: &StepResult) -> ExitDrift {
    let Some(code) = r.exit_code else {
        return ExitDrift::None;
    };
    match &step.action {
        // The runner stops a transcript at the first command whose status is wrong.
        Action::Console(cmds) if r.checks.len() < cmds.len() && code != 0 => {
            ExitDrift::Inner(r.checks.len().saturating_sub(1), code)
        }
        Action::Console(_) | Action::Script { .. } if !step.exit.accepts(code) => {
            ExitDrift::Last(code)
        }
        _ => ExitDrift::None,
    }
}

/// What to rewrite in one step, from its results on every host; notes what stays.
fn decide(
    rb: &Runbook,
    step: &Step,
    res: &[&StepResult],
    opts: Options,
    up: &mut Update,
) -> Vec<Change> {
    let file = &rb.file;
    let block = &rb.blocks[step.block];
    if res.iter().any(|r| r.status == Status::Error) {
        return Vec::new();
    }
    if res
        .iter()
        .any(|r| r.status == Status::Skipped && r.skip_reason == Some(SkipReason::Requires))
    {
        up.remaining = true;
        return Vec::new();
    }
    let failed: Vec<&StepResult> = res
        .iter()
        .copied()
        .filter(|r| r.status == Status::Failed)
        .collect();
    if failed.is_empty() {
        return Vec::new();
    }
    let mut changes = Vec::new();

    // Exit status first: without `--exit`, a step whose status drifted is left whole.
    let mut last: Vec<(&str, i32)> = Vec::new();
    for r in &failed {
        match exit_drift(step, r) {
            ExitDrift::None => {}
            ExitDrift::Last(code) => last.push((&r.host, code)),
            ExitDrift::Inner(n, code) => {
                let at = match &step.action {
                    Action::Console(cmds) => cmds.get(n).map_or(block.info.lang_span, |c| c.span),
                    _ => block.info.lang_span,
                };
                up.notes.push(
                    Diagnostic::error(
                        file,
                        at,
                        format!("exit status drifted: expected 0, got {code} on {}", r.host),
                    )
                    .with_help(
                        "only the last command of a transcript may expect another status; \
                         split the block to record it",
                    ),
                );
                up.remaining = true;
                return Vec::new();
            }
        }
    }
    if let Some(&(host, code)) = last.first() {
        let want = match step.exit {
            ExitSpec::Code(c) => c.to_string(),
            ExitSpec::Any => "any".into(),
        };
        let at = block
            .info
            .get("exit")
            .map_or(block.info.lang_span, |a| a.span);
        if !opts.exit {
            let hosts: Vec<&str> = last.iter().map(|(h, _)| *h).collect();
            up.notes.push(
                Diagnostic::error(
                    file,
                    at,
                    format!(
                        "exit status drifted: expected {want}, got {code} (use --exit to rewrite)"
                    ),
                )
                .with_help(format!(
                    "seen on {}; its output is left as written too",
                    hosts.join(", ")
                )),
            );
            up.remaining = true;
            return Vec::new();
        }
        // Every host that ran the step to its end and ended otherwise.
        let differ: Vec<&str> = res
            .iter()
            .filter(|r| matches!(r.status, Status::Passed | Status::Failed))
            .filter(|r| !matches!(exit_drift(step, r), ExitDrift::Inner(..)))
            .filter(|r| r.exit_code.is_some_and(|c| c != code))
            .map(|r| r.host.as_str())
            .collect();
        if !differ.is_empty() {
            up.notes
                .push(disagree(file, at, "exit status", host, &differ));
            up.remaining = true;
        }
        changes.push(Change::Exit(code));
    }

    for (index, exp) in step.expectations().into_iter().enumerate() {
        // (host, rewritten, passed) for every host that got this far.
        let seen: Vec<(&str, &str, bool)> = res
            .iter()
            .filter_map(|r| {
                let c = r.checks.iter().find(|c| c.expectation == index)?;
                Some((
                    r.host.as_str(),
                    c.verdict.rewritten.as_str(),
                    c.verdict.passed,
                ))
            })
            .collect();
        let Some(&(host, text, _)) = seen.iter().find(|(_, _, passed)| !passed) else {
            continue;
        };
        let at = expected_span(exp);
        let differ: Vec<&str> = seen
            .iter()
            .filter(|(_, t, _)| *t != text)
            .map(|(h, _, _)| *h)
            .collect();
        if !differ.is_empty() {
            up.notes.push(disagree(file, at, "output", host, &differ));
            up.remaining = true;
        }
        if !matches!(rb.blocks[exp.block].role, Role::Console | Role::Output) {
            up.notes.push(
                Diagnostic::error(
                    file,
                    block.info.lang_span,
                    "output drifted, and this script has no `output` block to rewrite",
                )
                .with_help("put an `output` block right after it to record what it prints"),
            );
            up.remaining = true;
            continue;
        }
        changes.push(Change::Output {
            index,
            text: text.to_string(),
        });
    }

    // Failures that are neither output nor exit status (file and diff steps) stay.
    if failed.iter().any(|r| {
        r.checks.iter().all(|c| c.verdict.passed) && matches!(exit_drift(step, r), ExitDrift::None)
    }) {
        up.remaining = true;
    }
    changes
}

fn disagree(
    file: &Arc<SourceFile>,
    at: Span,
    what: &str,
    host: &str,
    differ: &[&str],
) -> Diagnostic {
    Diagnostic::warning(
        file,
        at,
        format!(
            "hosts disagree on this {what}: wrote what `{host}` gave; {} gave something else",
            differ
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .with_help("`run` still drifts on those hosts; make the text match all of them (`[..]`, ` (re)`, `...`)")
}

fn expected_span(exp: &Expected) -> Span {
    exp.lines.first().map_or(Span::at(exp.at), |l| l.span)
}

/// Adds one change's edits to the source's and each translation's pending edits, or none
/// of them (with a note) when any file refuses it.
fn stage(
    rb: &Runbook,
    k: usize,
    change: &Change,
    translations: &[(&str, &Runbook)],
    pending: &mut [Pending],
    up: &mut Update,
) {
    let mut all: Vec<(usize, usize, Vec<Edit>)> = Vec::new();
    let targets = std::iter::once((rb, Some(k))).chain(
        translations
            .iter()
            .map(|(_, t)| (*t, counterpart_step(rb, t, k))),
    );
    for (n, (doc, step)) in targets.enumerate() {
        let Some(step) = step else {
            let note = Diagnostic::error(
                &doc.file,
                Span::default(),
                format!(
                    "the translation has no block for step `{}`; nothing of it rewritten",
                    rb.steps[k].id
                ),
            );
            up.notes.push(note);
            up.remaining = true;
            return;
        };
        match edits_for(
            doc,
            step,
            change,
            n == 0 || same_expected(rb, k, doc, step, change),
        ) {
            Ok((block, edits)) => {
                if edits.is_empty() {
                    continue;
                }
                if splice::overlaps(&pending[n].edits, &edits) {
                    up.notes.push(Diagnostic::error(
                        &doc.file,
                        doc.blocks[block].info.lang_span,
                        "update found two rewrites of the same lines; this block is left as written",
                    ));
                    up.remaining = true;
                    return;
                }
                all.push((n, block, edits));
            }
            Err((span, why)) => {
                up.notes.push(Diagnostic::error(
                    &doc.file,
                    span,
                    format!("this drift is left as written: {why}"),
                ));
                up.remaining = true;
                return;
            }
        }
    }
    for (n, block, edits) in all {
        pending[n].edits.extend(edits);
        pending[n].blocks.insert(block);
    }
    // Intents are recorded even when a file needed no edit: the text must hold either way.
    pending[0].intents.push((k, change.clone()));
    for (n, (_, t)) in translations.iter().enumerate() {
        if let Some(ts) = counterpart_step(rb, t, k) {
            pending[n + 1].intents.push((ts, change.clone()));
        }
    }
}

/// Whether a translation's expected lines for the change are the source's, as parity says.
fn same_expected(rb: &Runbook, k: usize, tr: &Runbook, ts: usize, change: &Change) -> bool {
    match change {
        Change::Exit(_) => true,
        Change::Output { index, .. } => {
            let a = rb.steps[k].expectations();
            let b = tr.steps[ts].expectations();
            match (a.get(*index), b.get(*index)) {
                (Some(a), Some(b)) => a
                    .lines
                    .iter()
                    .map(|l| &l.text)
                    .eq(b.lines.iter().map(|l| &l.text)),
                _ => false,
            }
        }
    }
}

/// The edits for one change in one document: (block changed, edits).
fn edits_for(
    doc: &Runbook,
    step: usize,
    change: &Change,
    parity: bool,
) -> Result<(usize, Vec<Edit>), (Span, String)> {
    let step = &doc.steps[step];
    let file = &doc.file;
    if !parity {
        return Err((
            doc.blocks[step.block].info.lang_span,
            "this translation's expected lines differ from the source's".into(),
        ));
    }
    match change {
        Change::Exit(code) => {
            let b = &doc.blocks[step.block];
            Ok((
                step.block,
                vec![splice::exit_attr(file, b.fenced.info_span, &b.info, *code)],
            ))
        }
        Change::Output { index, text } => {
            let exps = step.expectations();
            let exp = exps[*index];
            let b = &doc.blocks[exp.block];
            let console = b.role == Role::Console;
            splice::expected(file, &b.fenced, &exp.lines, exp.at, text, console)
                .map(|e| (exp.block, e))
                .map_err(|why: Refusal| (expected_span(exp), why.to_string()))
        }
    }
}

/// The blocks a translation must hold as its source does (SPEC §2), in order.
fn parity_blocks(rb: &Runbook) -> Vec<usize> {
    rb.blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| crate::lint::is_parity_block(b))
        .map(|(i, _)| i)
        .collect()
}

/// The translation's step for the source's step `k`: the block at the same position among
/// the blocks they share.
fn counterpart_step(src: &Runbook, tr: &Runbook, k: usize) -> Option<usize> {
    let (a, b) = (parity_blocks(src), parity_blocks(tr));
    let pos = a.iter().position(|&i| i == src.steps[k].block)?;
    let tb = *b.get(pos)?;
    tr.blocks[tb].step
}

/// Applies each file's edits and checks the result; a group with any doubtful file is
/// dropped whole.
fn finish(
    ws: &Workspace,
    rb: &Runbook,
    translations: &[(&str, &Runbook)],
    pending: Vec<Pending>,
    up: &mut Update,
) -> Vec<FileChange> {
    let docs: Vec<&Runbook> = std::iter::once(rb)
        .chain(translations.iter().map(|(_, t)| *t))
        .collect();
    let mut group = Vec::new();
    let mut reparsed: Vec<Runbook> = Vec::new();
    for (doc, p) in docs.iter().zip(pending) {
        if p.edits.is_empty() && p.intents.is_empty() {
            reparsed.push((*doc).clone());
            continue;
        }
        let new_text = splice::apply(&doc.file.text, &p.edits);
        let new_file = Arc::new(SourceFile::new(doc.file.path.clone(), new_text.clone()));
        let (new_rb, diags) = doc::parse(&new_file);
        if let Err(why) = verify(doc, &new_rb, &diags, &p.intents) {
            up.notes.push(
                Diagnostic::at_path(
                    ws.rel_path(doc),
                    format!("not rewritten: the new text would not read back as intended ({why})"),
                )
                .with_help("this is a bug in `runbook update`; please report it with the runbook"),
            );
            up.remaining = true;
            return Vec::new();
        }
        reparsed.push(new_rb);
        if !p.edits.is_empty() {
            group.push(FileChange {
                file: doc.file.clone(),
                shown: ws.rel_path(doc),
                new_text,
                blocks: p.blocks.len(),
            });
        }
    }
    // Source and translations must still hold the same blocks.
    for ((lang, _), new_tr) in translations.iter().zip(&reparsed[1..]) {
        let d = crate::lint::check_translation(&reparsed[0], new_tr, lang);
        if d.iter().any(Diagnostic::is_error) {
            up.notes.push(Diagnostic::at_path(
                ws.rel_path(new_tr),
                "not rewritten: it would no longer hold the same blocks as its source",
            ));
            up.remaining = true;
            return Vec::new();
        }
    }
    group
}

/// The new document holds the same blocks and steps, parses clean, and says what was meant.
fn verify(
    old: &Runbook,
    new: &Runbook,
    diags: &[Diagnostic],
    intents: &[(usize, Change)],
) -> Result<(), String> {
    if let Some(d) = diags.iter().find(|d| d.severity == Severity::Error) {
        return Err(d.message.clone());
    }
    if old.blocks.len() != new.blocks.len() || old.steps.len() != new.steps.len() {
        return Err("the blocks changed".into());
    }
    for (k, change) in intents {
        let step = &new.steps[*k];
        if step.id != old.steps[*k].id {
            return Err(format!("step `{}` changed its id", old.steps[*k].id));
        }
        match change {
            Change::Exit(code) => {
                if step.exit != ExitSpec::Code(*code) {
                    return Err(format!("`exit=` of `{}` did not take", step.id));
                }
            }
            Change::Output { index, text } => {
                let got = step
                    .expectations()
                    .get(*index)
                    .map(|e| normalize(&e.text()));
                if got.as_deref() != Some(normalize(text).as_str()) {
                    return Err(format!("the expected output of `{}` did not take", step.id));
                }
            }
        }
    }
    Ok(())
}

/// `--dry-run`: the change as a unified diff, `--- a/PATH` / `+++ b/PATH`.
pub fn unified_diff(change: &FileChange) -> String {
    similar::TextDiff::from_lines(change.file.text.as_str(), change.new_text.as_str())
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("a/{}", change.shown),
            &format!("b/{}", change.shown),
        )
        .to_string()
}
