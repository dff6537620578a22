use std::collections::HashMap;
use std::sync::Arc;

use super::*;
use crate::site::i18n::{EN, ZH};
use crate::source::SourceFile;

fn doc(text: &str) -> Runbook {
    let file = Arc::new(SourceFile::new(
        std::path::Path::new("runbooks/t.md"),
        text.to_string(),
    ));
    crate::doc::parse(&file).0
}

fn render(text: &str) -> String {
    let rb = doc(text);
    let hosts: Vec<String> = vec!["local".into()];
    let ann = Annotations {
        hosts: rb
            .steps
            .iter()
            .map(|s| (s.id.as_str(), hosts.as_slice()))
            .collect::<HashMap<_, _>>(),
        latest: &[],
        checks: &[],
        run: true,
        tick: true,
    };
    let link = |d: &str| {
        let (path, frag) = d.split_once('#').unwrap_or((d, ""));
        path.strip_suffix(".md")
            .map(|k| format!("en/{k}.html#{frag}"))
    };
    body(&rb, &ann, &EN, &link).html
}

#[test]
fn raw_html_in_prose_is_shown_as_text() {
    let html = render("# T\n\nHello <script>alert(1)</script> there.\n\n<div onclick=\"x()\">\n<script>alert(2)</script>\n</div>\n\n<!-- a note -->\n");
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<div onclick"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("a note"), "comments are dropped: {html}");
}

#[test]
fn dangerous_links_are_neutralised_and_runbook_links_rewritten() {
    let html = render("[a](javascript:alert(1)) [b](JaVa&#x09;Script:alert(1)) [c](https://example.com/x) [d](02-next.md#step) ![i](data:text/html,x)\n");
    assert!(!html.to_lowercase().contains("javascript"), "{html}");
    assert!(!html.contains("data:text"), "{html}");
    assert!(html.contains("href=\"https://example.com/x\""), "{html}");
    assert!(html.contains("href=\"en/02-next.html#step\""), "{html}");
}

#[test]
fn blocks_by_role() {
    let text = "# T\n\n```console {#hello}\n$ echo \"<b>hi</b>\"\n<b>hi</b>\n```\n\n```sh {#count}\necho 1\n```\n\n```output\n1\n```\n\n```text {#hosts file=/etc/hosts mode=append}\n10.0.0.1 a\n```\n\n```text {#edit manual}\nvi /etc/x\n```\n\n```text\njust text\n```\n";
    let html = render(text);
    // The command is copied without its prompt; output is escaped.
    assert!(
        html.contains("data-copy=\"echo &#34;&#60;b&#62;hi&#60;/b&#62;&#34;\""),
        "{html}"
    );
    assert!(
        html.contains("<span class=\"out\">&#60;b&#62;hi&#60;/b&#62;</span>"),
        "{html}"
    );
    assert!(!html.contains("<b>"), "{html}");
    assert!(html.contains("id=\"hello\""));
    // The output block sits inside the script's step, once.
    assert_eq!(html.matches(">1</pre>").count(), 1, "{html}");
    assert!(html.contains("appends to /etc/hosts on local"), "{html}");
    assert!(
        html.contains("type=\"checkbox\" data-host=\"local\""),
        "{html}"
    );
    assert!(html.contains("just text"));
    assert_eq!(
        html.matches("data-run=\"step\"").count(),
        3,
        "manual steps have no Run: {html}"
    );
}

#[test]
fn chinese_chrome_words() {
    let rb = doc("```text {#h file=/etc/hosts on=a}\nx\n```\n");
    let hosts = vec!["controller2".to_string(), "controller3".to_string()];
    let ann = Annotations {
        hosts: [("h", hosts.as_slice())].into_iter().collect(),
        latest: &[],
        checks: &[],
        run: false,
        tick: false,
    };
    let html = body(&rb, &ann, &ZH, &|_| None).html;
    assert!(
        html.contains("写入 controller2、controller3 上的 /etc/hosts"),
        "{html}"
    );
    assert!(!html.contains("data-run"), "{html}");
}

#[test]
fn headings_get_unique_anchors() {
    let b = {
        let rb = doc("# Top\n\n## 配置 NTP 时间同步\n\n## Same\n\n## Same\n");
        let ann = Annotations {
            hosts: HashMap::new(),
            latest: &[],
            checks: &[],
            run: false,
            tick: false,
        };
        body(&rb, &ann, &EN, &|_| None)
    };
    let ids: Vec<&str> = b.toc.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["配置-ntp-时间同步", "same", "same-1"]);
    assert_eq!(b.h1.as_deref(), Some("Top"));
}

#[test]
fn diff_lines_are_classified_and_changed_words_marked() {
    let d = "runbooks/t.md:4\n--- expected\n+++ actual\n@@ -1,2 +1,2 @@\n a\n-step 33 ok\n+step 33 FAILED\n";
    let lines = diff_lines(d);
    let classes: Vec<&str> = lines.iter().map(|l| l.class).collect();
    assert_eq!(
        classes,
        ["head", "head", "head", "hunk", "ctx", "del", "add"]
    );
    let em: Vec<&str> = lines[6]
        .spans
        .iter()
        .filter(|s| s.em)
        .map(|s| s.text.as_str())
        .collect();
    assert_eq!(em, ["FAILED"]);
}

#[test]
fn lane_output_is_escaped() {
    let r = LatestResult {
        runbook: "runbooks/t.md".into(),
        step: "s".into(),
        host: "local".into(),
        line: 1,
        status: "failed".into(),
        skip_reason: None,
        when: "2026-01-02T03:04:05.000Z".into(),
        last_passed: None,
        run_id: 1,
        exit_code: Some(0),
        duration_ms: 5,
        attempts: 1,
        expected: "x".into(),
        actual: "<script>alert(1)</script>".into(),
        diff: "--- expected\n+++ actual\n@@ -1 +1 @@\n-x\n+<img src=x onerror=alert(1)>\n".into(),
        message: Some("<b>m</b>".into()),
        checked: None,
        notes: vec!["<i>note</i>".into()],
    };
    let lane = LaneView::from_latest(&EN, &r);
    let html = LaneTemplate {
        lane: &lane,
        ui: &EN,
    }
    .render()
    .unwrap();
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(!html.contains("<i>") && html.contains("note"), "{html}");
    assert!(html.contains("2026-01-02 03:04 UTC"));
}
