//! What commands return: messages and tables as plain values. Only the shell
//! and the script runner print them; `render` turns them into text or files.

/// One cell of a result table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

impl Cell {
    /// Text for people: floats with six significant digits, nulls empty.
    pub fn display(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Int(v) => v.to_string(),
            Cell::Float(v) => format_sig(*v, 6),
            Cell::Text(s) => s.clone(),
            Cell::Bool(b) => b.to_string(),
        }
    }

    /// Text for files: floats at full (shortest round-trip) precision.
    pub fn exact(&self) -> String {
        match self {
            Cell::Float(v) if v.is_finite() => format!("{v}"),
            other => other.display(),
        }
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Cell::Int(_) | Cell::Float(_))
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}
impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}
impl From<usize> for Cell {
    fn from(v: usize) -> Self {
        Cell::Int(v as i64)
    }
}
impl From<f64> for Cell {
    fn from(v: f64) -> Self {
        if v.is_nan() { Cell::Null } else { Cell::Float(v) }
    }
}
impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Null, Into::into)
    }
}

/// Formats `v` with `sig` significant digits, without trailing zeros, and
/// switches to scientific notation for very small or large magnitudes.
pub fn format_sig(v: f64, sig: usize) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    if !(-4..15).contains(&exp) {
        let s = format!("{:.*e}", sig.saturating_sub(1), v);
        return match s.split_once('e') {
            Some((m, e)) => format!("{}e{e}", trim_zeros(m)),
            None => s,
        };
    }
    let decimals = (sig as i32 - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

/// A result table: named columns, rows of cells, and optional title and notes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub title: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Lines printed under the table (e.g. "showing 10 of 97 rows").
    pub notes: Vec<String>,
    /// In formats people read, show a first-column value only where it
    /// changes (e.g. a variable name over its levels). Data formats (CSV,
    /// JSON, Parquet) always repeat it.
    pub merge_first_column: bool,
    /// Columns whose values are incidental to the result — durations, cache
    /// hits, run ids, scratch paths: shown like any column, never compared
    /// as a result when a notebook is replayed.
    pub incidental: Vec<String>,
}

impl Table {
    /// The cell texts as people read them (see `merge_first_column`).
    pub fn display_rows(&self) -> Vec<Vec<String>> {
        let mut prev: Option<&Cell> = None;
        self.rows
            .iter()
            .map(|row| {
                let mut texts: Vec<String> = row.iter().map(Cell::display).collect();
                if self.merge_first_column {
                    if let (Some(first), Some(p)) = (row.first(), prev)
                        && first == p
                    {
                        texts[0].clear();
                    }
                    prev = row.first();
                }
                texts
            })
            .collect()
    }
}

impl Table {
    pub fn new(columns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Table { columns: columns.into_iter().map(Into::into).collect(), ..Default::default() }
    }

    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Marks columns as incidental (see [`Table::incidental`]).
    pub fn with_incidental(mut self, columns: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.incidental.extend(columns.into_iter().map(Into::into));
        self
    }

    /// Whether column `c` is incidental.
    pub fn is_incidental(&self, c: usize) -> bool {
        self.columns.get(c).is_some_and(|name| self.incidental.contains(name))
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }
}

/// A figure a command drew: its SVG, and the data drawn (what a replay
/// compares).
#[derive(Debug, Clone, PartialEq)]
pub struct FigureOut {
    pub title: String,
    pub svg: String,
    pub data: serde_json::Value,
}

/// What a command produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Nothing,
    /// Text that states a result.
    Message(String),
    /// Text about how the result came about, not the result: how long it
    /// took, which run recorded it, whether it came from a cache. Shown like
    /// a message; a notebook replay reports it but never fails on it.
    Note(String),
    Table(Table),
    Figure(FigureOut),
    Many(Vec<Output>),
}

impl Output {
    /// Every figure in this output.
    pub fn figures(&self) -> Vec<&FigureOut> {
        match self {
            Output::Figure(f) => vec![f],
            Output::Many(items) => items.iter().flat_map(Output::figures).collect(),
            _ => Vec::new(),
        }
    }

    /// The first table in this output, for `--out`.
    pub fn table(&self) -> Option<&Table> {
        match self {
            Output::Table(t) => Some(t),
            Output::Many(items) => items.iter().find_map(Output::table),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(format_sig(47.031251, 6), "47.0313");
        assert_eq!(format_sig(1.0, 6), "1");
        assert_eq!(format_sig(0.000012345, 3), "1.23e-5");
        assert_eq!(format_sig(-170.2, 6), "-170.2");
        assert_eq!(format_sig(123456789.0, 6), "123456789");
    }
}
