//! What will run, in what order, where: runbooks ordered by `requires`, each step resolved to
//! its hosts and marked selected or not by `--only` / `--from`. Pure: no I/O.

use crate::diag::Diagnostic;
use crate::lint::{resolve_require, Workspace};
use crate::project::LOCAL;

#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// `--only ID` (repeatable): run just these steps.
    pub only: Vec<String>,
    /// `--from ID`: start at this step.
    pub from: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PlannedStep {
    /// Index into the runbook's `steps`.
    pub step: usize,
    pub hosts: Vec<String>,
    pub selected: bool,
}

#[derive(Debug, Clone)]
pub struct PlannedRunbook {
    /// Index into `Workspace::runbooks`.
    pub runbook: usize,
    pub steps: Vec<PlannedStep>,
    /// Required runbooks that are part of this run (indexes; they run first).
    pub requires_in_run: Vec<usize>,
    /// Required runbooks not in this run, as project-relative paths (checked in the store).
    pub requires_elsewhere: Vec<String>,
}

impl PlannedRunbook {
    /// Every host a selected step of this runbook uses, in first-use order.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = Vec::new();
        for s in self.steps.iter().filter(|s| s.selected) {
            for h in &s.hosts {
                if !hosts.contains(h) {
                    hosts.push(h.clone());
                }
            }
        }
        hosts
    }
}

/// Orders the workspace's runbooks (a runbook after those it requires) and resolves steps.
pub fn plan(ws: &Workspace, filters: &Filters) -> Result<Vec<PlannedRunbook>, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    for id in filters.only.iter().chain(&filters.from) {
        if !ws.runbooks.iter().any(|r| r.step(id).is_some()) {
            let all: Vec<&str> = ws
                .runbooks
                .iter()
                .flat_map(|r| r.steps.iter().map(|s| s.id.as_str()))
                .collect();
            let mut d = Diagnostic::at_path("runbook", format!("no step has the id `{id}`"));
            if let Some(s) = crate::doc::steps::suggest(id, &all) {
                d.help.push(format!("did you mean `{s}`?"));
            }
            diags.push(d);
        }
    }
    // requires → edges between runbooks in this run.
    let abs: Vec<_> = ws
        .runbooks
        .iter()
        .map(|r| std::path::absolute(&r.file.path).unwrap_or(r.file.path.clone()))
        .collect();
    let mut planned: Vec<PlannedRunbook> = Vec::new();
    for (i, rb) in ws.runbooks.iter().enumerate() {
        let mut in_run = Vec::new();
        let mut elsewhere = Vec::new();
        for req in &rb.front.requires {
            match resolve_require(&ws.project, rb, req) {
                Some(p) => {
                    let p = std::path::absolute(&p).unwrap_or(p);
                    match abs.iter().position(|a| *a == p) {
                        Some(j) => in_run.push(j),
                        None => elsewhere.push(crate::lint::rel_to(&ws.project.root, &p)),
                    }
                }
                None => elsewhere.push(req.clone()),
            }
        }
        let default = rb
            .front
            .default_host
            .clone()
            .unwrap_or_else(|| LOCAL.to_string());
        let steps = rb
            .steps
            .iter()
            .enumerate()
            .map(|(si, s)| {
                let value = s.on.as_ref().map_or(default.as_str(), |(v, _)| v.as_str());
                let hosts = ws
                    .project
                    .resolve_on(value, &rb.front.hosts)
                    .unwrap_or_default();
                PlannedStep {
                    step: si,
                    hosts,
                    selected: true,
                }
            })
            .collect();
        planned.push(PlannedRunbook {
            runbook: i,
            steps,
            requires_in_run: in_run,
            requires_elsewhere: elsewhere,
        });
    }
    let order = match topo_order(&planned) {
        Ok(o) => o,
        Err(cycle) => {
            let names: Vec<String> = cycle
                .iter()
                .map(|i| ws.rel_path(&ws.runbooks[*i]))
                .collect();
            diags.push(Diagnostic::at_path(
                names[0].clone(),
                format!("`requires` forms a cycle: {}", names.join(" → ")),
            ));
            return Err(diags);
        }
    };
    if !diags.is_empty() {
        return Err(diags);
    }
    let mut ordered: Vec<PlannedRunbook> = order.into_iter().map(|i| planned[i].clone()).collect();
    // Filters.
    let mut before_from = filters.from.is_some();
    for p in &mut ordered {
        let rb = &ws.runbooks[p.runbook];
        for s in &mut p.steps {
            let id = &rb.steps[s.step].id;
            if before_from && filters.from.as_deref() == Some(id.as_str()) {
                before_from = false;
            }
            s.selected = !before_from && (filters.only.is_empty() || filters.only.contains(id));
        }
    }
    Ok(ordered)
}

/// Depth-first topological order, stable in the given order; `Err` holds a cycle.
fn topo_order(planned: &[PlannedRunbook]) -> Result<Vec<usize>, Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        i: usize,
        planned: &[PlannedRunbook],
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let from = stack.iter().position(|x| *x == i).unwrap_or(0);
                let mut cycle = stack[from..].to_vec();
                cycle.push(i);
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks[i] = Mark::Active;
        stack.push(i);
        for &j in &planned[i].requires_in_run {
            visit(j, planned, marks, stack, out)?;
        }
        stack.pop();
        marks[i] = Mark::Done;
        out.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; planned.len()];
    let mut out = Vec::new();
    for i in 0..planned.len() {
        visit(i, planned, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}
