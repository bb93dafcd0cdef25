//! Plain rows of text rendered as an aligned terminal table or as markdown (for CI
//! comments): the shared output of compare, validate, model and predict.

use serde::Serialize;

/// How a decision tool prints its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Aligned columns for a terminal.
    Table,
    /// A GitHub-flavoured markdown table (for CI comments).
    Markdown,
    /// Machine-readable JSON.
    Json,
}

/// Renders `rows` under `header`, as a terminal table or as markdown.
pub fn render(header: &[&str], rows: &[Vec<String>], markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        out.push_str(&format!("| {} |\n", header.join(" | ")));
        out.push_str(&format!(
            "|{}\n",
            header.iter().map(|_| "---|").collect::<String>()
        ));
        for r in rows {
            let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        return out;
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let parts: Vec<String> = cells
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    out.push_str(&line(&mut header.iter().copied()));
    for r in rows {
        out.push_str(&line(&mut r.iter().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_columns_align_and_markdown_escapes_pipes() {
        let rows = vec![vec!["a".to_string(), "long value".to_string()]];
        let t = render(&["name", "v"], &rows, false);
        assert_eq!(t, "name  v\na     long value\n");
        let m = render(&["x"], &[vec!["a|b".to_string()]], true);
        assert_eq!(m, "| x |\n|---|\n| a\\|b |\n");
    }
}
