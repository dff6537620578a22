//! The runbook model: what a document means once parsed. Everything keeps its span.

use std::sync::Arc;
use std::time::Duration;

use crate::doc::attrs::InfoString;
use crate::doc::front_matter::FrontMatter;
pub use crate::doc::markdown::{FencedBlock, Line};
use crate::matcher::MatchSpec;
use crate::source::{SourceFile, Span};

/// A parsed runbook: front matter, every fenced block, and the steps made from them.
#[derive(Debug, Clone)]
pub struct Runbook {
    pub file: Arc<SourceFile>,
    pub front: FrontMatter,
    pub blocks: Vec<Block>,
    pub steps: Vec<Step>,
}

impl Runbook {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
    pub fn title(&self) -> String {
        self.front.title.clone().unwrap_or_else(|| {
            self.file
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
    }
}

/// What a fenced block is (SPEC §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `console` / `shell-session`: a transcript.
    Console,
    /// `sh`, `bash`, `shell`: a script run as one unit.
    Script,
    /// `output`: expected output of the executable block before it.
    Output,
    /// Any language with `file=PATH`: content to put on the hosts.
    File,
    /// `diff` with `file=PATH`: a unified diff to apply.
    Diff,
    /// Flagged `manual`: done by hand, shown with a check box.
    Manual,
    /// An executable block flagged `norun`.
    NoRun,
    /// Anything else: never executed.
    Illustration,
}

#[derive(Debug, Clone)]
pub struct Block {
    pub fenced: FencedBlock,
    pub info: InfoString,
    pub role: Role,
    /// Index into `Runbook::steps` when this block is a step.
    pub step: Option<usize>,
}

impl Block {
    pub fn body(&self) -> String {
        let mut s = String::new();
        for l in &self.fenced.lines {
            s.push_str(&l.text);
            s.push('\n');
        }
        s
    }
}

/// Expected exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitSpec {
    Code(i32),
    Any,
}

impl ExitSpec {
    pub fn accepts(self, code: i32) -> bool {
        match self {
            ExitSpec::Any => true,
            ExitSpec::Code(c) => c == code,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    Replace,
    Append,
}

/// Expected output of one command or script: the lines as written, and how to compare.
#[derive(Debug, Clone)]
pub struct Expected {
    pub lines: Vec<Line>,
    pub spec: MatchSpec,
    /// Index of the block that holds these lines (the console block, or the `output` block).
    pub block: usize,
    /// Byte offset of the start of the line where the expected lines begin (or would begin,
    /// when there are none): `update` splices here.
    pub at: usize,
}

impl Expected {
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self.lines.iter().map(|l| l.text.as_str()).collect();
        texts.join("\n")
    }
}

/// One command of a console transcript.
#[derive(Debug, Clone)]
pub struct Command {
    /// The command without its prompt; `> ` continuation lines joined with newlines.
    pub text: String,
    /// `#` or `$`.
    pub prompt: char,
    /// The command's lines in the file.
    pub span: Span,
    pub expected: Expected,
}

#[derive(Debug, Clone)]
pub enum Action {
    Console(Vec<Command>),
    Script {
        code: String,
        expected: Option<Expected>,
    },
    File {
        path: String,
        mode: FileMode,
        perm: Option<u32>,
        content: String,
    },
    Diff {
        path: String,
        diff: String,
        perm: Option<u32>,
    },
    Manual {
        text: String,
    },
}

/// One step: a block to execute (or tick, when manual) on its hosts.
#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub id_span: Span,
    /// Index of the block in `Runbook::blocks`.
    pub block: usize,
    /// 1-based line of the block's opening fence.
    pub line: usize,
    pub action: Action,
    /// The raw `on=` value and its span; `None` means `default_host`.
    pub on: Option<(String, Span)>,
    pub timeout: Duration,
    pub exit: ExitSpec,
    pub retry: Option<Duration>,
    pub every: Duration,
    pub serial: bool,
    pub reconnect: Option<Duration>,
}

impl Step {
    pub fn is_manual(&self) -> bool {
        matches!(self.action, Action::Manual { .. })
    }

    /// Every expected block of the step, in order.
    pub fn expectations(&self) -> Vec<&Expected> {
        match &self.action {
            Action::Console(cmds) => cmds.iter().map(|c| &c.expected).collect(),
            Action::Script {
                expected: Some(e), ..
            } => vec![e],
            _ => Vec::new(),
        }
    }
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
pub const DEFAULT_EVERY: Duration = Duration::from_secs(2);
