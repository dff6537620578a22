//! The words of the site's own chrome (buttons, labels, statuses) in the languages it knows;
//! a page in another language gets English. Runbook text is never translated here: it comes
//! from `translations/LANG/` (SPEC §2).

/// Every string the templates and the script show, for one language.
#[derive(Debug)]
pub struct Ui {
    pub lang: &'static str,
    pub runbooks: &'static str,
    pub contents: &'static str,
    pub menu: &'static str,
    pub language: &'static str,
    pub run_step: &'static str,
    pub run_from: &'static str,
    pub run_all: &'static str,
    pub stop: &'static str,
    pub copy: &'static str,
    pub copied: &'static str,
    pub on: &'static str,
    pub expected_output: &'static str,
    pub actual_output: &'static str,
    pub diff: &'static str,
    pub not_run: &'static str,
    pub last_passed: &'static str,
    pub never_passed: &'static str,
    pub exit_status: &'static str,
    pub attempts: &'static str,
    pub done_by_hand: &'static str,
    pub not_executed: &'static str,
    pub variables: &'static str,
    pub need_token: &'static str,
    pub read_only: &'static str,
    pub static_note: &'static str,
    pub running: &'static str,
    pub queued: &'static str,
    pub stopped: &'static str,
    pub lost: &'static str,
    pub busy: &'static str,
    pub passed: &'static str,
    pub failed: &'static str,
    pub error: &'static str,
    pub skipped: &'static str,
    pub manual: &'static str,
    pub no_runbooks: &'static str,
    pub steps: &'static str,
    /// `{verb} {path} on {hosts}`, with the verb per file mode.
    pub writes: &'static str,
    pub appends: &'static str,
    pub applies: &'static str,
    pub file_mode: &'static str,
    pub ago_now: &'static str,
    pub ago_min: &'static str,
    pub ago_hour: &'static str,
    pub ago_day: &'static str,
}

pub static EN: Ui = Ui {
    lang: "en",
    runbooks: "Runbooks",
    contents: "On this page",
    menu: "Toggle the list of runbooks",
    language: "Language",
    run_step: "Run",
    run_from: "Run from here",
    run_all: "Run all",
    stop: "Stop",
    copy: "Copy",
    copied: "Copied",
    on: "on",
    expected_output: "expected output",
    actual_output: "actual output",
    diff: "diff: expected against actual",
    not_run: "not run yet",
    last_passed: "last passed",
    never_passed: "never passed",
    exit_status: "exit status",
    attempts: "attempts",
    done_by_hand: "done by hand",
    not_executed: "shown only, never run",
    variables: "Variables",
    need_token: "To run steps, open the address with the token that runbook serve printed.",
    read_only: "Read-only: this site was started with --no-exec.",
    static_note: "Results as recorded when this site was built.",
    running: "running",
    queued: "queued",
    stopped: "stopped",
    lost: "The connection to runbook serve was lost; reload the page.",
    busy: "Another run is in progress.",
    passed: "passed",
    failed: "drifted",
    error: "error",
    skipped: "skipped",
    manual: "manual",
    no_runbooks: "No runbooks here yet.",
    steps: "steps",
    writes: "writes",
    appends: "appends to",
    applies: "applies this diff to",
    file_mode: "mode",
    ago_now: "just now",
    ago_min: "{n} min ago",
    ago_hour: "{n} h ago",
    ago_day: "{n} days ago",
};

pub static ZH: Ui = Ui {
    lang: "zh",
    runbooks: "运行手册",
    contents: "本页内容",
    menu: "显示或隐藏运行手册列表",
    language: "语言",
    run_step: "运行",
    run_from: "从这里运行",
    run_all: "全部运行",
    stop: "停止",
    copy: "复制",
    copied: "已复制",
    on: "主机",
    expected_output: "预期输出",
    actual_output: "实际输出",
    diff: "差异:预期与实际",
    not_run: "尚未运行",
    last_passed: "上次通过",
    never_passed: "从未通过",
    exit_status: "退出状态",
    attempts: "尝试次数",
    done_by_hand: "手动完成",
    not_executed: "仅作展示,不会执行",
    variables: "变量",
    need_token: "要运行步骤,请打开 runbook serve 启动时打印的带令牌的地址。",
    read_only: "只读:本站点以 --no-exec 启动。",
    static_note: "结果为构建本站点时记录的结果。",
    running: "运行中",
    queued: "等待中",
    stopped: "已停止",
    lost: "与 runbook serve 的连接已断开,请刷新页面。",
    busy: "另一个运行正在进行。",
    passed: "通过",
    failed: "偏离",
    error: "错误",
    skipped: "跳过",
    manual: "手动",
    no_runbooks: "这里还没有运行手册。",
    steps: "步骤",
    writes: "写入",
    appends: "追加到",
    applies: "应用此 diff 到",
    file_mode: "权限",
    ago_now: "刚刚",
    ago_min: "{n} 分钟前",
    ago_hour: "{n} 小时前",
    ago_day: "{n} 天前",
};

/// The chrome's words for a page language (`zh-CN` → Chinese; anything unknown → English).
pub fn ui(lang: &str) -> &'static Ui {
    if primary(lang) == "zh" {
        &ZH
    } else {
        &EN
    }
}

impl Ui {
    pub fn status(&self, status: &str) -> &'static str {
        match status {
            "passed" => self.passed,
            "failed" => self.failed,
            "error" => self.error,
            "skipped" => self.skipped,
            "manual" => self.manual,
            "running" => self.running,
            "queued" => self.queued,
            _ => self.not_run,
        }
    }

    /// "writes /etc/hosts on a, b" or "写入 a、b 上的 /etc/hosts".
    pub fn file_action(&self, verb: &str, path: &str, hosts: &[String]) -> String {
        if self.lang == "zh" {
            if hosts.is_empty() {
                format!("{verb} {path}")
            } else {
                format!("{verb} {} 上的 {path}", hosts.join("、"))
            }
        } else if hosts.is_empty() {
            format!("{verb} {path}")
        } else {
            format!("{verb} {path} on {}", hosts.join(", "))
        }
    }
}

/// The primary subtag, lower-case: `zh-CN` → `zh`.
pub fn primary(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// A language's name in itself, for the language switch.
pub fn native_name(tag: &str) -> String {
    let lower = tag.to_ascii_lowercase();
    let name = match lower.as_str() {
        "zh-cn" | "zh-hans" | "zh-sg" => "简体中文",
        "zh-tw" | "zh-hant" | "zh-hk" => "繁體中文",
        "zh" => "中文",
        _ => match primary(&lower).as_str() {
            "en" => "English",
            "de" => "Deutsch",
            "fr" => "Français",
            "es" => "Español",
            "it" => "Italiano",
            "pt" => "Português",
            "ru" => "Русский",
            "ja" => "日本語",
            "ko" => "한국어",
            _ => return tag.to_string(),
        },
    };
    name.to_string()
}
