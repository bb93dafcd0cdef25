//! What people read of an acceptance: the verdict table on the terminal, the drain
//! line, and the HTML report that opens with the verdicts.

use super::verdict::{AcceptDocument, Action};
use crate::render::plot::Source;
use anyhow::Result;
use maud::{html, Markup};
use std::path::{Path, PathBuf};

/// The verdict table and the drain list, as printed.
pub fn text(doc: &AcceptDocument) -> String {
    let mut out = format!(
        "clusterbench accept {}: cluster verdict {}{}\n\n",
        doc.accept_id,
        doc.cluster.name().to_uppercase(),
        if doc.complete {
            ""
        } else {
            " (the job ended before every step ran)"
        }
    );
    let width = doc
        .nodes
        .iter()
        .map(|n| n.host.len())
        .max()
        .unwrap_or(4)
        .max(4);
    out.push_str(&format!("{:<width$}  {:<8}  reasons\n", "node", "verdict"));
    for n in &doc.nodes {
        let reasons: Vec<String> = n
            .reasons
            .iter()
            .map(|r| format!("[{} {}] {}", r.step, r.action.name(), r.why))
            .collect();
        let first = reasons.first().cloned().unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<width$}  {:<8}  {first}\n",
            n.host,
            n.action.name()
        ));
        for r in reasons.iter().skip(1) {
            out.push_str(&format!("{:<width$}  {:<8}  {r}\n", "", ""));
        }
    }
    for r in &doc.cluster_reasons {
        out.push_str(&format!(
            "cluster: [{} {}] {}\n",
            r.step,
            r.action.name(),
            r.why
        ));
    }
    for n in &doc.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    if doc.drain.is_empty() {
        out.push_str("\nno node to take out\n");
    } else {
        out.push_str(&format!("\nnodes to take out: {}\n", doc.drain.join(" ")));
        if let Some(c) = &doc.drain_command {
            out.push_str(&format!("to drain them under Slurm (not run):\n  {c}\n"));
        }
    }
    out
}

fn verdict_table(doc: &AcceptDocument) -> Markup {
    let colour = |a: Action| match a {
        Action::Pass => "#d9f2d9",
        Action::Monitor => "#fff3c4",
        Action::Reset => "#ffd9b3",
        Action::Isolate => "#f5c2c2",
    };
    html! {
        section id="verdict" {
            h2 { "Acceptance verdict: " (doc.cluster.name()) }
            p.meta {
                "accept " (doc.accept_id) " · " (doc.nodes.len()) " nodes"
                @if doc.quick { " · quick plan" }
                @if !doc.claims_files.is_empty() { " · claims: " (doc.claims_files.join(", ")) }
            }
            @if !doc.complete {
                p.unfinished { "The job ended before every step ran: the verdicts say why." }
            }
            table {
                thead { tr { th { "node" } th { "verdict" } th { "reasons" } th { "records" } } }
                tbody {
                    @for n in &doc.nodes {
                        tr {
                            td { (n.host) }
                            td style=(format!("background:{}", colour(n.action))) { (n.action.name()) }
                            td {
                                @if n.reasons.is_empty() { "–" }
                                @for r in &n.reasons { div { "[" (r.step) " " (r.action.name()) "] " (r.why) } }
                            }
                            td { @for r in &n.reasons { @for p in &r.records { div { code { (p) } } } } }
                        }
                    }
                }
            }
            @for r in &doc.cluster_reasons {
                p { "cluster: [" (r.step) " " (r.action.name()) "] " (r.why) }
            }
            @if let Some(c) = &doc.drain_command {
                p { "Nodes to take out: " (doc.drain.join(" ")) }
                pre { (c) }
            }
            h3 { "Steps" }
            ol {
                @for s in &doc.steps {
                    li { (s.title) ": " (format!("{:?}", s.status).to_lowercase()) @if let Some(n) = &s.note { " (" (n) ")" } }
                }
            }
        }
    }
}

/// The HTML report: the verdict table first, then the usual report of every step's
/// results (environment, tables and charts).
pub fn html(doc: &AcceptDocument, json_path: &Path) -> Result<String> {
    let docs: Vec<(PathBuf, crate::results::RunDocument)> = doc
        .steps
        .iter()
        .flat_map(|s| {
            s.documents
                .iter()
                .map(|d| (json_path.to_path_buf(), d.clone()))
        })
        .collect();
    let sources: Vec<Source> = crate::render::plot::label_sources(docs);
    let page = crate::render::html::render(&sources)?;
    let table = verdict_table(doc).into_string();
    Ok(match page.find("<body>") {
        Some(at) => {
            let at = at + "<body>".len();
            format!("{}{table}{}", &page[..at], &page[at..])
        }
        None => format!("{table}{page}"),
    })
}
