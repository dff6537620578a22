//! The `runbook` binary: everything happens in [`runbook::cli`].

fn main() -> std::process::ExitCode {
    runbook::cli::main()
}
