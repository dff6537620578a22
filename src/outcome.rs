//! What a run produced: one [`StepResult`] per step and host. Every consumer — the terminal,
//! the JSON and JUnit reports, the store, `update` and the site — reads these and decides
//! nothing here.

use serde::Serialize;

use crate::diag::Exit;
use crate::matcher::Verdict;

/// A step's status on one host, ordered by how bad it is, so the worst is a `max()`.
///
/// ```
/// use runbook::outcome::Status;
/// assert!(Status::Error > Status::Failed && Status::Failed > Status::Skipped);
/// assert!(Status::Skipped > Status::Manual && Status::Manual > Status::Passed);
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Manual,
    Skipped,
    Failed,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Manual => "manual",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
            Status::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "passed" => Status::Passed,
            "manual" => Status::Manual,
            "skipped" => Status::Skipped,
            "failed" => Status::Failed,
            "error" => Status::Error,
            _ => return None,
        })
    }
}

/// Why a step was skipped: only an unmet `requires` is drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// `--only` / `--from` left it out.
    NotSelected,
    /// An earlier step failed and `--keep-going` was not given.
    EarlierFailure,
    /// A runbook named in `requires` has not passed.
    Requires,
}

/// One comparison inside a step (a console command's output, or a script's), kept for
/// `update`.
#[derive(Debug, Clone)]
pub struct Check {
    /// Index into `Step::expectations()`.
    pub expectation: usize,
    pub verdict: Verdict,
}

/// The result of one step on one host. Field names are the JSON report's (SPEC §3.2).
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub id: String,
    pub host: String,
    /// Line of the block's opening fence.
    pub line: usize,
    pub status: Status,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub attempts: u32,
    pub expected: String,
    pub actual: String,
    /// Unified diff, expected against actual; empty when passed.
    pub diff: String,
    /// For errors and skips: what happened, in one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<SkipReason>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// When the step started, RFC 3339.
    pub started_at: String,
    #[serde(skip)]
    pub checks: Vec<Check>,
}

impl StepResult {
    pub fn exit(&self) -> Exit {
        match self.status {
            Status::Error => Exit::Fault,
            Status::Failed => Exit::Drift,
            Status::Skipped if self.skip_reason == Some(SkipReason::Requires) => Exit::Drift,
            _ => Exit::Ok,
        }
    }
}

/// All results of one runbook.
#[derive(Debug, Clone, Serialize)]
pub struct RunbookResult {
    /// Relative to the project folder, e.g. `runbooks/ntp.md`.
    pub path: String,
    pub status: Status,
    pub steps: Vec<StepResult>,
}

impl RunbookResult {
    pub fn new(path: String, steps: Vec<StepResult>) -> RunbookResult {
        let status = steps
            .iter()
            .map(|s| {
                if s.status == Status::Manual {
                    Status::Passed
                } else {
                    s.status
                }
            })
            .max()
            .unwrap_or(Status::Passed);
        // A runbook whose only non-passing steps were filtered out still passed.
        let status = if status == Status::Skipped
            && steps
                .iter()
                .all(|s| s.skip_reason != Some(SkipReason::Requires))
        {
            if steps.iter().any(|s| s.status == Status::Passed) {
                Status::Passed
            } else {
                Status::Skipped
            }
        } else {
            status
        };
        RunbookResult {
            path,
            status,
            steps,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
    pub manual: usize,
}

impl Summary {
    pub fn of<'a>(steps: impl IntoIterator<Item = &'a StepResult>) -> Summary {
        let mut s = Summary::default();
        for r in steps {
            match r.status {
                Status::Passed => s.passed += 1,
                Status::Failed => s.failed += 1,
                Status::Error => s.errors += 1,
                Status::Skipped => s.skipped += 1,
                Status::Manual => s.manual += 1,
            }
        }
        s
    }
}

/// The exit status of a whole run (SPEC §3): 3 beats 1 beats 0.
pub fn exit_of(results: &[RunbookResult]) -> Exit {
    results
        .iter()
        .flat_map(|r| &r.steps)
        .map(StepResult::exit)
        .max()
        .unwrap_or(Exit::Ok)
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
