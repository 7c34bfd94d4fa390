//! The one error type of a render: what went wrong, where (file, line, column), in which
//! resource or kustomization entry, and what to do about it. Every load or transform error
//! maps to exit code 2 and is printed as one screen of text, never a panic.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub message: String,
    pub file: Option<PathBuf>,
    /// 1-based; `u32` keeps `Error` small (it travels in every `Result` of the pipeline).
    pub line: Option<u32>,
    pub column: Option<u32>,
    /// Outer context, innermost first: "in patch 2 of overlays/x/kustomization.yaml".
    pub context: Vec<String>,
    pub help: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            file: None,
            line: None,
            column: None,
            context: Vec::new(),
            help: None,
        }
    }

    pub fn in_file(mut self, file: &Path) -> Self {
        if self.file.is_none() {
            self.file = Some(file.to_path_buf());
        }
        self
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        if self.line.is_none() {
            self.line = Some(u32::try_from(line).unwrap_or(u32::MAX));
            self.column = Some(u32::try_from(column).unwrap_or(u32::MAX));
        }
        self
    }

    pub fn at_opt(self, pos: Option<(usize, usize)>) -> Self {
        match pos {
            Some((l, c)) => self.at(l, c),
            None => self,
        }
    }

    pub fn context(mut self, ctx: impl Into<String>) -> Self {
        self.context.push(ctx.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        if self.help.is_none() {
            self.help = Some(help.into());
        }
        self
    }

    /// `file:line:col` (or less, as known).
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        let mut s = file.display().to_string();
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
            if let Some(c) = self.column {
                s.push_str(&format!(":{c}"));
            }
        }
        Some(s)
    }

    pub fn from_yaml(e: crate::yaml::YamlError, file: &Path) -> Self {
        Error::new(format!("invalid YAML: {}", e.message))
            .in_file(file)
            .at(e.line, e.column)
    }
}

impl Error {
    /// The same text as an error's, headed `warning:`: something a render went on past.
    pub fn warning_text(&self) -> String {
        let text = self.to_string();
        match text.strip_prefix("error: ") {
            Some(rest) => format!("warning: {rest}"),
            None => text,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        if let Some(loc) = self.location() {
            writeln!(f, "  --> {loc}")?;
        }
        for c in &self.context {
            writeln!(f, "  = {c}")?;
        }
        if let Some(h) = &self.help {
            writeln!(f, "  = help: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The expected name nearest to a misspelled one: a case difference, or one edit (two for
/// names longer than five letters), a swap of neighbours counting as one.
pub fn closest<'a>(field: &str, expected: &[&'a str]) -> Option<&'a str> {
    fn distance(a: &[char], b: &[char]) -> usize {
        // Optimal string alignment distance.
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, cell) in d[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1)
                    .min(d[i - 1][j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(d[i - 2][j - 2] + 1);
                }
                d[i][j] = v;
            }
        }
        d[a.len()][b.len()]
    }
    let lower: Vec<char> = field.to_ascii_lowercase().chars().collect();
    let limit = if lower.len() > 5 { 2 } else { 1 };
    expected
        .iter()
        .map(|e| {
            let e_lower: Vec<char> = e.to_ascii_lowercase().chars().collect();
            (distance(&lower, &e_lower), *e)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| e)
}
