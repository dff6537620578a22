use super::*;

fn spec(mode: MatchMode) -> MatchSpec {
    MatchSpec {
        mode,
        ..MatchSpec::default()
    }
}

fn collapse(mode: MatchMode) -> MatchSpec {
    MatchSpec {
        mode,
        ws_collapse: true,
        ..MatchSpec::default()
    }
}

fn ntp() -> MatchSpec {
    MatchSpec {
        mode: MatchMode::Table,
        ws_collapse: false,
        ignore: vec!["when".into(), "reach".into()],
        tol: vec![
            ("delay".into(), 5.0),
            ("offset".into(), 50.0),
            ("jitter".into(), 50.0),
        ],
    }
}

/// (name, expected, actual, spec, passed, rewritten)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    MatchSpec,
    bool,
    &'static str,
);

fn run(cases: Vec<Case>) {
    for (name, expected, actual, spec, passed, rewritten) in cases {
        let verdict = check(expected, actual, &spec);
        assert_eq!(verdict.passed, passed, "{name}: passed\n{verdict:#?}");
        assert_eq!(
            verdict.rewritten, rewritten,
            "{name}: rewritten\n{verdict:#?}"
        );
        assert_eq!(
            verdict.diff.is_empty(),
            passed,
            "{name}: a diff exactly when failed\n{verdict:#?}"
        );
        if passed {
            assert!(
                verdict.notes.is_empty(),
                "{name}: no notes on a pass\n{verdict:#?}"
            );
        }
        // What `update` writes back must pass against the same output.
        let again = check(&verdict.rewritten, actual, &spec);
        assert!(
            again.passed,
            "{name}: rewritten does not pass again\n{again:#?}"
        );
    }
}

/// What `update` writes back must pass against the same output.
fn assert_rewrite_passes(verdict: &Verdict, actual: &str, spec: &MatchSpec) {
    let again = check(&verdict.rewritten, actual, spec);
    assert!(again.passed, "rewritten does not pass again\n{again:#?}");
}

/// The `-`/`+` lines of a diff, without its header.
fn changes(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+')) && *l != "--- expected" && *l != "+++ actual"
        })
        .collect()
}

#[rustfmt::skip]
#[test]
fn normalisation() {
    use MatchMode::Exact;
    run(vec![
        ("trailing white space", "a\nb", "a  \nb\t \n", spec(Exact), true, "a\nb"),
        ("trailing blank lines on both sides", "a\n\n\n", "a\n\n", spec(Exact), true, "a"),
        ("expected's trailing white space", "a   \nb  ", "a\nb", spec(Exact), true, "a\nb"),
        ("leading blank line kept", "\na", "a", spec(Exact), false, "a"),
        ("blank line between kept", "a\n\nb", "a\n\nb", spec(Exact), true, "a\n\nb"),
        ("colours", "ok: 3 passed", "\x1b[32mok\x1b[0m: \x1b[1m3\x1b[0m passed\n", spec(Exact), true, "ok: 3 passed"),
        ("cursor moves and erase", "done", "\x1b[2K\x1b[1Gdone\x1b[?25h\n", spec(Exact), true, "done"),
        ("CRLF", "a\nb", "a\r\nb\r\n", spec(Exact), true, "a\nb"),
        ("progress bar carriage return", "100%", "10%\r50%\r100%\n", spec(Exact), true, "100%"),
        ("tab is kept", "a\tb", "a\tb", spec(Exact), true, "a\tb"),
        ("tab is not a space", "a b", "a\tb", spec(Exact), false, "a\tb"),
    ]);
}

#[test]
fn normalize_examples() {
    assert_eq!(normalize("\x1b[31mred\x1b[0m  \r\n\r\n\n"), "red");
    assert_eq!(normalize("abcdef\rXY"), "XYcdef");
    assert_eq!(normalize("a\x07b"), "ab");
    // Tabs and carriage returns survive the escape stripper.
    assert_eq!(normalize("\x1b[1mA\x1b[0m\tB\r\n"), "A\tB");
    assert_eq!(normalize("\x1b[32m50%\x1b[0m\r100%\r\n"), "100%");
    assert_eq!(normalize("\x1b]0;title\x07ok 25\u{b0}C"), "ok 25\u{b0}C");
    assert_eq!(normalize(""), "");
    assert_eq!(normalize("\n\n"), "");
    // Clean output (the fast path) and output that needs work give what the rules say.
    assert_eq!(normalize("a\nb\n\n\n"), "a\nb");
    assert_eq!(normalize("a\n\nb"), "a\n\nb");
    assert_eq!(normalize("a \nb\t\n  \n"), "a\nb");
    assert_eq!(normalize("a\u{3000}\nb\u{a0}"), "a\nb");
    assert_eq!(normalize("配置\n"), "配置");
}

#[rustfmt::skip]
#[test]
fn elision() {
    use MatchMode::Exact;
    run(vec![
        ("at start", "...\nz", "x\ny\nz", spec(Exact), true, "...\nz"),
        ("at start, none", "...\nz", "z", spec(Exact), true, "...\nz"),
        ("in the middle", "a\n...\nz", "a\nb\nc\nz", spec(Exact), true, "a\n...\nz"),
        ("in the middle, none", "a\n...\nz", "a\nz", spec(Exact), true, "a\n...\nz"),
        ("at end", "a\n...", "a\nb\nc", spec(Exact), true, "a\n..."),
        ("at end, none", "a\n...", "a", spec(Exact), true, "a\n..."),
        ("alone against lines", "...", "x\ny", spec(Exact), true, "..."),
        ("alone against nothing", "...", "", spec(Exact), true, "..."),
        ("consecutive", "a\n...\n...\nz", "a\nb\nz", spec(Exact), true, "a\n...\n...\nz"),
        ("two, line between", "...\nm\n...", "a\nm\nb\nm\nc", spec(Exact), true, "...\nm\n..."),
        ("trailing white space after", "a\n...  \nz", "a\nb\nz", spec(Exact), true, "a\n...\nz"),
        ("indented is text", "a\n  ...", "a\nb", spec(Exact), false, "a\nb"),
        ("last line drifted", "1\n...\n5", "1\n2\n3\n4", spec(Exact), false, "1\n...\n4"),
        ("missing line after", "a\n...", "b\nc", spec(Exact), false, "b\n..."),
        ("line before missing", "a\n...\nz", "q\nz", spec(Exact), false, "q\n...\nz"),
        ("not a line wildcard in contains", "...", "a", spec(MatchMode::Contains), false, ""),
        ("not a line wildcard in unordered", "...", "a", spec(MatchMode::Unordered), false, "a"),
    ]);
}

#[rustfmt::skip]
#[test]
fn empty() {
    use MatchMode::Exact;
    run(vec![
        ("empty against empty", "", "", spec(Exact), true, ""),
        ("empty against blank lines", "", "\n  \n\n", spec(Exact), true, ""),
        ("empty against output", "", "x\ny", spec(Exact), false, "x\ny"),
        ("output against empty", "x", "", spec(Exact), false, ""),
        ("empty contains", "", "x", spec(MatchMode::Contains), true, ""),
        ("empty unordered", "", "x", spec(MatchMode::Unordered), false, "x"),
    ]);
    let verdict = check("", "x\n", &spec(Exact));
    assert_eq!(changes(&verdict.diff), ["+x"]);
}

#[rustfmt::skip]
#[test]
fn line_wildcards() {
    use MatchMode::Exact;
    run(vec![
        ("two in a line, no greedy failure", "a[..]b[..]c", "axbybzc", spec(Exact), true, "a[..]b[..]c"),
        ("at the start", "[..] packets received", "3 packets received", spec(Exact), true, "[..] packets received"),
        ("at the end", "Linux [..]", "Linux host 6.1.0", spec(Exact), true, "Linux [..]"),
        ("both ends", "[..]:[..]", "10:42", spec(Exact), true, "[..]:[..]"),
        ("matches nothing", "a[..]b", "ab", spec(Exact), true, "a[..]b"),
        ("alone matches a blank line", "x\n[..]\ny", "x\n\ny", spec(Exact), true, "x\n[..]\ny"),
        ("pieces do not overlap", "ab[..]bc", "abc", spec(Exact), false, "abc"),
        ("prefix and suffix are anchored; update keeps the wildcard between kept neighbours", "a[..]b", "xaby", spec(Exact), false, "xa[..]by"),
        ("one line only", "a[..]b", "a\nb", spec(Exact), false, "a\nb"),
        ("kept where it matches, actual elsewhere", "id: [..]\nstate: up", "id: 42\nstate: down", spec(Exact), false, "id: [..]\nstate: down"),
    ]);
}

#[rustfmt::skip]
#[test]
fn regex_lines() {
    use MatchMode::Exact;
    run(vec![
        ("matches", "chrony v[0-9]+\\.[0-9]+ (re)", "chrony v4.3", spec(Exact), true, "chrony v[0-9]+\\.[0-9]+ (re)"),
        ("anchored at the end", "v[0-9.]+ (re)", "v4.3 beta", spec(Exact), false, "v4.3 beta"),
        ("anchored at the start", "[0-9]+ (re)", "x12", spec(Exact), false, "x12"),
        ("alternation stays anchored", "a|b (re)", "ab", spec(Exact), false, "ab"),
        ("its own text matches", "a+ (re)", "a+ (re)", spec(Exact), true, "a+ (re)"),
        ("suffix needs the space", "a+(re)", "aa", spec(Exact), false, "aa"),
        ("in contains", "uptime [0-9]+ (re)", "x\nuptime 42\ny", spec(MatchMode::Contains), true, "uptime [0-9]+ (re)"),
        ("in unordered", "b\n[a-z] (re)", "a\nb", spec(MatchMode::Unordered), true, "b\n[a-z] (re)"),
    ]);
}

#[test]
fn invalid_regex_is_a_mismatch_with_a_note() {
    let verdict = check("ok\nfoo( (re)", "ok\nfoo(", &spec(MatchMode::Exact));
    assert!(!verdict.passed);
    assert_eq!(verdict.rewritten, "ok\nfoo(");
    assert_eq!(verdict.notes.len(), 1, "{:?}", verdict.notes);
    assert!(
        verdict.notes[0].starts_with("expected line 2: invalid regular expression `foo(`: "),
        "{:?}",
        verdict.notes
    );
}

#[rustfmt::skip]
#[test]
fn collapsing_white_space() {
    use MatchMode::*;
    run(vec![
        ("runs of spaces", "a b  c", "a   b    c", collapse(Exact), true, "a b  c"),
        ("tabs", "a b", "a\t\tb", collapse(Exact), true, "a b"),
        ("indentation", "  x", "    x", collapse(Exact), true, "  x"),
        ("not without the flag", "a b", "a   b", spec(Exact), false, "a   b"),
        ("around wildcards", "a [..] z", "a    b  c    z", collapse(Exact), true, "a [..] z"),
        ("in a regex", "up [0-9]+ days (re)", "up    12\tdays", collapse(Exact), true, "up [0-9]+ days (re)"),
        ("in a regex's own spaces", "up  [0-9]+  days (re)", "up 12 days", collapse(Exact), true, "up  [0-9]+  days (re)"),
        ("a regex without the flag", "up [0-9]+ days (re)", "up    12 days", spec(Exact), false, "up    12 days"),
        ("in contains", "b c", "a\nb    c", collapse(Contains), true, "b c"),
        ("in unordered", "b c\na", "a\nb\tc", collapse(Unordered), true, "b c\na"),
    ]);
}

#[rustfmt::skip]
#[test]
fn contains() {
    use MatchMode::Contains;
    run(vec![
        ("in order with lines between", "b\nd", "a\nb\nc\nd\ne", spec(Contains), true, "b\nd"),
        ("adjacent", "b\nc", "a\nb\nc", spec(Contains), true, "b\nc"),
        ("wildcards", "Active: active [..]", "Loaded: loaded\nActive: active (running) since Mon", spec(Contains), true, "Active: active [..]"),
        ("repeated line needs two", "x\nx", "x\ny", spec(Contains), false, "x"),
        ("out of order", "d\nb", "b\nd", spec(Contains), false, "b"),
        ("missing line replaced by the most similar one", "Loaded: loaded\nActive: active (running)", "ntp.service\nLoaded: loaded\nActive: inactive (dead)\nDocs: man:ntpd(8)", spec(Contains), false, "Loaded: loaded\nActive: inactive (dead)"),
        ("missing line with nothing similar is dropped", "a\nzzzz\nb", "a\nq\nb", spec(Contains), false, "a\nb"),
    ]);
    let verdict = check(
        "Loaded: loaded\nActive: active (running)",
        "ntp.service\nLoaded: loaded\nActive: inactive (dead)\nDocs: man:ntpd(8)",
        &spec(Contains),
    );
    assert_eq!(
        changes(&verdict.diff),
        ["-Active: active (running)", "+Active: inactive (dead)"]
    );
}

#[rustfmt::skip]
#[test]
fn unordered() {
    use MatchMode::Unordered;
    run(vec![
        ("any order", "c\na\nb", "a\nb\nc", spec(Unordered), true, "c\na\nb"),
        ("duplicates count", "a\na\nb", "a\nb\na", spec(Unordered), true, "a\na\nb"),
        ("loose pattern does not steal", "a[..]\nab", "ab\nac", spec(Unordered), true, "a[..]\nab"),
        ("too few", "a\na", "a", spec(Unordered), false, "a"),
        ("one extra", "a\nb", "b\na\nc", spec(Unordered), false, "a\nb\nc"),
        ("drift in place", "eth0 UP\nlo UNKNOWN", "lo UNKNOWN\neth0 DOWN", spec(Unordered), false, "eth0 DOWN\nlo UNKNOWN"),
        ("missing and added", "x\ny\nz", "z\ny\nw", spec(Unordered), false, "y\nz\nw"),
    ]);
    let verdict = check(
        "eth0 UP\nlo UNKNOWN\nwlan0 UP",
        "wlan0 UP\nlo UNKNOWN\neth0 DOWN",
        &spec(Unordered),
    );
    assert_eq!(
        changes(&verdict.diff),
        ["-eth0 UP", "+eth0 DOWN"],
        "order alone is no drift"
    );
}

#[rustfmt::skip]
#[test]
fn any_passes_and_keeps_the_expected_text() {
    run(vec![
        ("different output", "whatever\n", "something else", spec(MatchMode::Any), true, "whatever"),
        ("no output", "x", "", spec(MatchMode::Any), true, "x"),
    ]);
}

#[test]
fn one_drifted_line_among_wildcards_shows_alone() {
    let mut expected = Vec::new();
    let mut actual = Vec::new();
    for k in 1..=50 {
        if k % 5 == 0 {
            expected.push(format!("step {k} took [..] ms"));
            actual.push(format!("step {k} took {} ms", k * 7));
        } else if k == 21 {
            expected.push("...".to_string());
            actual.extend(["noise a".to_string(), "noise b".to_string()]);
        } else {
            expected.push(format!("step {k} ok"));
            actual.push(if k == 33 {
                format!("step {k} FAILED")
            } else {
                format!("step {k} ok")
            });
        }
    }
    let verdict = check(
        &expected.join("\n"),
        actual.join("\n"),
        &spec(MatchMode::Exact),
    );
    assert!(!verdict.passed);
    assert_eq!(changes(&verdict.diff), ["-step 33 ok", "+step 33 FAILED"]);
    assert!(
        verdict.rewritten.contains("step 35 took [..] ms\n"),
        "wildcards kept after the drift"
    );
    assert!(verdict.rewritten.contains("\n...\n"), "`...` kept");
}

#[test]
fn large_output_with_elision() {
    let actual: String = (1..=300_000).map(|n| format!("{n}\n")).collect();
    let verdict = check("1\n...\n300000", &actual, &spec(MatchMode::Exact));
    assert!(verdict.passed);
    assert_eq!(verdict.rewritten, "1\n...\n300000");
    assert_eq!(verdict.diff, "");

    let verdict = check("1\n...\n300001", &actual, &spec(MatchMode::Exact));
    assert!(!verdict.passed);
    assert_eq!(verdict.rewritten, "1\n...\n300000");
    assert_eq!(changes(&verdict.diff), ["-300001", "+300000"]);
}

const NTP_HEADER: &str =
    "     remote           refid      st t when poll reach   delay   offset  jitter";
const NTP_RULE: &str =
    "==============================================================================";

fn ntp_table(rows: &[&str]) -> String {
    let mut lines = vec![NTP_HEADER, NTP_RULE];
    lines.extend(rows);
    lines.join("\n")
}

const HEALTHY: &str =
    "*controller      LOCAL(0)         6 u   65  128  377    0.213   -0.620   0.040";

#[test]
fn table_ntp_example_passes_on_a_healthy_peer() {
    let expected = ntp_table(&[HEALTHY]);
    let actual = ntp_table(&[
        "*controller      LOCAL(0)         6 u   12  128   17    1.904   31.207  12.800",
    ]);
    let verdict = check(&expected, &actual, &ntp());
    assert!(verdict.passed, "{verdict:#?}");
    assert_eq!(verdict.rewritten, expected);
    // White-space amounts do not matter in a table.
    let squeezed = "remote refid st t when poll reach delay offset jitter\n".to_string()
        + NTP_RULE
        + "\n*controller LOCAL(0) 6 u 1 128 1 0.1 0.2 0.3";
    assert!(check(&expected, &squeezed, &ntp()).passed);
}

#[test]
fn table_missing_tally_code_is_drift() {
    let expected = ntp_table(&[HEALTHY]);
    let actual = ntp_table(&[
        " controller      LOCAL(0)         6 u   12  128   17    0.301    3.112   0.215",
    ]);
    let verdict = check(&expected, &actual, &ntp());
    assert!(!verdict.passed);
    // Only the cell that fell outside changes; the ignored and in-tolerance cells stay as written.
    let row = " controller      LOCAL(0)         6 u   65  128  377    0.213   -0.620   0.040";
    assert_eq!(verdict.rewritten, ntp_table(&[row]));
    assert_eq!(
        changes(&verdict.diff),
        [format!("-{HEALTHY}"), format!("+{row}")]
    );
    assert_eq!(
        verdict.notes,
        ["remote `controller` differs from `*controller`"]
    );
    assert_rewrite_passes(&verdict, &actual, &ntp());
}

#[test]
fn table_offset_beyond_tolerance() {
    let expected = ntp_table(&[HEALTHY]);
    let actual = ntp_table(&[
        "*controller      LOCAL(0)         6 u   12  128   17    0.301  187.330   0.215",
    ]);
    let verdict = check(&expected, &actual, &ntp());
    assert!(!verdict.passed);
    assert_eq!(
        verdict.notes,
        ["offset 187.330 differs from -0.620 by more than 50"]
    );
    let row = "*controller      LOCAL(0)         6 u   65  128  377    0.213  187.330   0.040";
    assert_eq!(verdict.rewritten, ntp_table(&[row]));
    assert_rewrite_passes(&verdict, &actual, &ntp());
    // Tolerance is inclusive, and holds both ways.
    let edge = ntp_table(&[
        "*controller      LOCAL(0)         6 u   12  128   17    5.213  -50.620  50.040",
    ]);
    assert!(check(&expected, &edge, &ntp()).passed);
}

#[test]
fn table_row_count() {
    let expected = ntp_table(&[HEALTHY]);
    let extra = "+controller3     10.0.0.3         3 u   40  128  377    0.500    1.000   0.100";
    let verdict = check(&expected, ntp_table(&[HEALTHY, extra]), &ntp());
    assert!(!verdict.passed);
    assert_eq!(verdict.notes, ["the table has 2 rows, expected 1"]);
    assert_eq!(verdict.rewritten, ntp_table(&[HEALTHY, extra]));
    assert_rewrite_passes(&verdict, &ntp_table(&[HEALTHY, extra]), &ntp());
    assert_eq!(changes(&verdict.diff), [format!("+{extra}")]);

    let verdict = check(&expected, ntp_table(&[]), &ntp());
    assert!(!verdict.passed);
    assert_eq!(verdict.notes, ["the table has 0 rows, expected 1"]);
    assert_eq!(verdict.rewritten, ntp_table(&[]));
}

#[test]
fn table_cut_name_with_a_space_stays_one_cell() {
    let expected = ntp_table(&[
        "+45.79.36.123 (t 10.0.0.1         2 u   65  128  377    0.213   -0.620   0.040",
    ]);
    let healthy = ntp_table(&[
        "+45.79.36.123 (t 10.0.0.1         2 u    3  128    1    0.250    2.000   0.090",
    ]);
    let verdict = check(&expected, &healthy, &ntp());
    assert!(verdict.passed, "{verdict:#?}");

    let moved = ntp_table(&[
        "+45.79.36.123 (x 10.0.0.1         2 u    3  128    1    0.250    2.000   0.090",
    ]);
    let verdict = check(&expected, &moved, &ntp());
    assert!(!verdict.passed);
    assert_eq!(
        verdict.notes,
        ["remote `+45.79.36.123 (x` differs from `+45.79.36.123 (t`"]
    );
    assert_eq!(
        verdict.rewritten,
        ntp_table(&[
            "+45.79.36.123 (x 10.0.0.1         2 u   65  128  377    0.213   -0.620   0.040"
        ])
    );
    assert_rewrite_passes(&verdict, &moved, &ntp());
}

#[rustfmt::skip]
#[test]
fn table_unit_suffix() {
    let spec = MatchSpec {
        mode: MatchMode::Table,
        tol: vec![("LATENCY".into(), 1.0)],
        ..MatchSpec::default()
    };
    let expected = "NAME   LATENCY\nweb    12.5ms";
    run(vec![
        ("within tolerance", expected, "NAME   LATENCY\nweb    13.1ms", spec.clone(), true, expected),
        ("other unit compares as text", expected, "NAME   LATENCY\nweb    12.5s", spec.clone(), false, "NAME   LATENCY\nweb    12.5s"),
        ("unit on one side only", expected, "NAME   LATENCY\nweb    12.5", spec.clone(), false, "NAME   LATENCY\nweb    12.5"),
        ("not a number", expected, "NAME   LATENCY\nweb    n/a", spec.clone(), false, "NAME   LATENCY\nweb    n/a"),
    ]);
    let verdict = check(expected, "NAME   LATENCY\nweb    20ms", &spec);
    assert_eq!(
        verdict.notes,
        ["LATENCY 20ms differs from 12.5ms by more than 1"]
    );
}

#[rustfmt::skip]
#[test]
fn table_cells() {
    let table = spec(MatchMode::Table);
    let ignore = MatchSpec {
        mode: MatchMode::Table,
        ignore: vec!["AGE".into()],
        ..MatchSpec::default()
    };
    run(vec![
        ("wildcard in a cell", "NAME      STATUS\nweb-[..]  Running", "NAME      STATUS\nweb-7f9c  Running", table.clone(), true, "NAME      STATUS\nweb-[..]  Running"),
        ("wildcard stays in its cell", "NAME  STATUS\n[..]  Running", "NAME  STATUS\nweb   Running   extra", table.clone(), false, "NAME  STATUS\n[..]  Running   extra"),
        ("ignored column", "NAME  AGE\nweb   5d", "NAME  AGE\nweb   3m", ignore.clone(), true, "NAME  AGE\nweb   5d"),
        ("ignored column, other cell drifts", "NAME  AGE\nweb   5d", "NAME  AGE\napi   3m", ignore, false, "NAME  AGE\napi   5d"),
        ("header must match", "NAME  STATUS\nweb   Running", "NAME  STATE\nweb   Running", table.clone(), false, "NAME  STATE\nweb   Running"),
        ("rows in order", "N\na\nb", "N\nb\na", table.clone(), false, "N\nb\na"),
        ("regex row", "NAME  PORT\nweb   [0-9]+ (re)", "NAME  PORT\nweb 8080", table.clone(), true, "NAME  PORT\nweb   [0-9]+ (re)"),
        ("empty expected table", "", "", table.clone(), true, ""),
        ("blank header line", "\nweb 1", "\nweb 1 2", table.clone(), false, "\nweb 1 2"),
        ("empty expected table, output", "", "NAME\nweb", table, false, "NAME\nweb"),
    ]);
}

#[rustfmt::skip]
#[test]
fn table_decoration_must_match() {
    let expected = "NAME  STATUS\n----  ------\nweb   Running";
    run(vec![
        ("same rule", expected, "NAME  STATUS\n----  ------\nweb   Running", spec(MatchMode::Table), true, expected),
        ("other rule", expected, "NAME  STATUS\n====  ======\nweb   Running", spec(MatchMode::Table), false, "NAME  STATUS\n====  ======\nweb   Running"),
        ("missing rule", expected, "NAME  STATUS\nweb   Running", spec(MatchMode::Table), false, "NAME  STATUS\nweb   Running"),
    ]);
    let verdict = check(
        expected,
        "NAME  STATUS\n====  ======\nweb   Running",
        &spec(MatchMode::Table),
    );
    assert_eq!(changes(&verdict.diff), ["-----  ------", "+====  ======"]);
}

#[test]
fn table_wider_cell_keeps_the_columns_after_it_aligned() {
    let spec = spec(MatchMode::Table);
    let verdict = check(
        "NAME  STATUS   AGE\nweb   Running  5d",
        "NAME  STATUS   AGE\nweb   CrashLoopBackOff  5d",
        &spec,
    );
    assert!(!verdict.passed);
    assert_eq!(
        verdict.rewritten,
        "NAME  STATUS   AGE\nweb   CrashLoopBackOff 5d"
    );
}

#[test]
fn table_columns_are_header_words() {
    assert_eq!(
        table_columns(NTP_HEADER),
        ["remote", "refid", "st", "t", "when", "poll", "reach", "delay", "offset", "jitter"]
    );
}

#[test]
fn diff_is_in_similars_unified_format() {
    // Where the alignment and a plain line diff agree, the text is the same as `similar`'s.
    let cases: Vec<(&str, &str, MatchMode)> = vec![
        (
            "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk",
            "a\nb\nX\nd\ne\nf\ng\nh\ni\nY\nk",
            MatchMode::Exact,
        ),
        ("a\nb\nc", "a\nc\nd", MatchMode::Exact),
        ("", "x\ny", MatchMode::Exact),
        ("x\ny", "", MatchMode::Exact),
        ("1\n...\n5", "1\n2\n3\n4", MatchMode::Exact),
        ("x\ny\nz", "z\ny\nw", MatchMode::Unordered),
        (
            "a\nb\nc\nd\ne\nf\ng\nh\ni\nj",
            "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk",
            MatchMode::Exact,
        ),
        (
            "a\nb\nc\nd\ne\nf\ng\nh\ni\nj",
            "q\nb\nc\nd\ne\nf\ng\nh\ni\nj",
            MatchMode::Exact,
        ),
    ];
    for (expected, actual, mode) in cases {
        let verdict = check(expected, actual, &spec(mode));
        let with_newline = |t: &str| {
            if t.is_empty() {
                String::new()
            } else {
                format!("{t}\n")
            }
        };
        let theirs = similar::TextDiff::from_lines(
            &with_newline(&normalize(expected)),
            &with_newline(&verdict.rewritten),
        )
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string();
        assert_eq!(verdict.diff, theirs, "{expected:?} against {actual:?}");
    }
    let verdict = check("a\nb\nc", "a\nc\nd", &spec(MatchMode::Exact));
    assert_eq!(
        verdict.diff,
        "--- expected\n+++ actual\n@@ -1,3 +1,3 @@\n a\n-b\n c\n+d\n"
    );
}

/// Naive reference for the default mode: exponential backtracking, fine for tiny inputs.
fn reference_exact(patterns: &[&str], actual: &[&str]) -> bool {
    match patterns.split_first() {
        None => actual.is_empty(),
        Some((&"...", rest)) => (0..=actual.len()).any(|k| reference_exact(rest, &actual[k..])),
        Some((first, rest)) => {
            !actual.is_empty()
                && LinePattern::parse(first, false, true).matches(actual[0])
                && reference_exact(rest, &actual[1..])
        }
    }
}

#[test]
fn generated_cases_agree_with_a_reference_and_rewrite_cleanly() {
    const PATTERNS: [&str; 7] = ["a", "b", "c", "...", "a[..]", "[bc] (re)", ""];
    const LINES: [&str; 5] = ["a", "b", "c", "ab", ""];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    for _ in 0..1000 {
        let expected: Vec<&str> = (0..next(6))
            .map(|_| PATTERNS[next(PATTERNS.len())])
            .collect();
        let actual: Vec<&str> = (0..next(7)).map(|_| LINES[next(LINES.len())]).collect();
        let (expected_text, actual_text) = (expected.join("\n"), actual.join("\n"));
        for mode in [MatchMode::Exact, MatchMode::Contains, MatchMode::Unordered] {
            let verdict = check(&expected_text, &actual_text, &spec(mode));
            if mode == MatchMode::Exact {
                let (e, a) = (normalize(&expected_text), normalize(&actual_text));
                let reference = reference_exact(&lines(&e), &lines(&a));
                assert_eq!(verdict.passed, reference, "{expected:?} against {actual:?}");
            }
            assert_eq!(
                verdict.diff.is_empty(),
                verdict.passed,
                "{mode:?} {expected:?} against {actual:?}\n{verdict:#?}"
            );
            let again = check(&verdict.rewritten, &actual_text, &spec(mode));
            assert!(
                again.passed,
                "{mode:?} {expected:?} against {actual:?}\n{verdict:#?}"
            );
        }
    }
}

#[test]
fn generated_tables_rewrite_cleanly() {
    const ROWS: [&str; 9] = [
        "*ntp-pool-1.example.org (t LOCAL(0) 6 u   65  128  377    0.213   -0.620   0.040",
        "x",
        HEALTHY,
        " controller      LOCAL(0)         6 u   12  128   17    0.301    3.112   0.215",
        "*controller      LOCAL(0)         6 u   12  128   17    0.301  187.330   0.215",
        "+45.79.36.123 (t 10.0.0.1         2 u   65  128  377    0.213   -0.620   0.040",
        "+45.79.36.123 (x 10.0.0.1         2 u    3  128    1 1234.250    2.000   0.090",
        "-x               .INIT.          16 u    -   64    0    0.000    0.000   0.000",
        "==============================================================================",
    ];
    let mut seed: u64 = 7;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    for _ in 0..300 {
        let expected: Vec<&str> = (0..next(4)).map(|_| ROWS[next(ROWS.len())]).collect();
        let actual: Vec<&str> = (0..next(4)).map(|_| ROWS[next(ROWS.len())]).collect();
        let (expected, actual) = (ntp_table(&expected), ntp_table(&actual));
        let verdict = check(&expected, &actual, &ntp());
        assert_eq!(verdict.diff.is_empty(), verdict.passed, "{verdict:#?}");
        let again = check(&verdict.rewritten, &actual, &ntp());
        assert!(
            again.passed,
            "EXPECTED\n{expected}\nACTUAL\n{actual}\nREWRITTEN\n{}\nAGAIN {again:#?}",
            verdict.rewritten
        );
    }
}

#[test]
fn a_drifted_line_keeps_its_wildcards_where_they_still_fit() {
    let spec = MatchSpec::default();
    for (expected, actual, rewritten) in [
        (
            "version 1.0 built [..]",
            "version 2.0 built 1795604214",
            "version 2.0 built [..]",
        ),
        (
            "[..] up [..] days",
            "10:42 down 3 days",
            "[..] down [..] days",
        ),
        ("id=[..]", "pid 42", "pid 42"),
        ("total \\d+ (re)", "sum 3", "sum 3"),
    ] {
        let v = check(expected, actual, &spec);
        assert!(!v.passed);
        assert_eq!(v.rewritten, rewritten, "{expected} vs {actual}");
        assert!(
            check(&v.rewritten, actual, &spec).passed,
            "{rewritten} must match {actual}"
        );
    }
}
