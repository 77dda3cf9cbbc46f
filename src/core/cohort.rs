//! Cohort tables: typing raw text cells into columns and validating them
//! against the roles a manifest declares (id, outcome, categorical,
//! continuous). Pure: the caller reads the file and passes its cells.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Cell texts that mean "missing".
pub const MISSING_TOKENS: &[&str] = &["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"];

/// Whether a raw cell is a missing value.
pub fn is_missing(s: &str) -> bool {
    MISSING_TOKENS.contains(&s)
}

/// The role each column plays in the study.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Roles {
    pub id: Option<String>,
    pub outcome: Option<String>,
    #[serde(default)]
    pub categorical: Vec<String>,
    #[serde(default)]
    pub continuous: Vec<String>,
}

impl Roles {
    /// Every column a role names, in declaration order.
    pub fn named_columns(&self) -> Vec<&str> {
        let mut cols: Vec<&str> = self.id.iter().chain(self.outcome.iter()).map(String::as_str).collect();
        cols.extend(self.categorical.iter().chain(self.continuous.iter()).map(String::as_str));
        cols
    }
}

/// A table as read from a file: header and rows of cell texts, with a way to
/// say where each row came from ("line 7" in a CSV, "row 6" in Parquet).
#[derive(Debug, Clone)]
pub struct RawTable {
    pub path: PathBuf,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Human location of each row, parallel to `rows`.
    pub locations: Vec<String>,
}

/// The typed values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>),
}

impl Values {
    pub fn len(&self) -> usize {
        match self {
            Values::Int(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::Text(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn missing(&self) -> usize {
        match self {
            Values::Int(v) => v.iter().filter(|x| x.is_none()).count(),
            Values::Float(v) => v.iter().filter(|x| x.is_none()).count(),
            Values::Bool(v) => v.iter().filter(|x| x.is_none()).count(),
            Values::Text(v) => v.iter().filter(|x| x.is_none()).count(),
        }
    }

    /// Numeric view (ints and floats); `None` for text and bool columns.
    pub fn as_f64(&self) -> Option<Vec<Option<f64>>> {
        match self {
            Values::Int(v) => Some(v.iter().map(|x| x.map(|i| i as f64)).collect()),
            Values::Float(v) => Some(v.clone()),
            _ => None,
        }
    }

    /// Every value as text (for categorical use of any column).
    pub fn as_text(&self) -> Vec<Option<String>> {
        match self {
            Values::Int(v) => v.iter().map(|x| x.map(|i| i.to_string())).collect(),
            Values::Float(v) => v.iter().map(|x| x.map(|f| f.to_string())).collect(),
            Values::Bool(v) => v.iter().map(|x| x.map(|b| b.to_string())).collect(),
            Values::Text(v) => v.clone(),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Values::Int(_) => "int",
            Values::Float(_) => "float",
            Values::Bool(_) => "bool",
            Values::Text(_) => "text",
        }
    }
}

/// A named, typed column.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedColumn {
    pub name: String,
    pub values: Values,
}

/// Types every column of `raw` and checks the declared roles: the id is
/// present and unique, the outcome is 0/1, continuous columns are numbers.
pub fn type_and_validate(raw: &RawTable, roles: &Roles) -> Result<Vec<TypedColumn>> {
    check_headers(raw)?;
    for col in roles.named_columns() {
        if !raw.headers.iter().any(|h| h == col) {
            return Err(Error::UnknownColumn {
                path: raw.path.clone(),
                column: col.to_string(),
                available: raw.headers.clone(),
            });
        }
    }
    let mut columns = Vec::with_capacity(raw.headers.len());
    for (c, name) in raw.headers.iter().enumerate() {
        let cells: Vec<&str> = raw.rows.iter().map(|r| r.get(c).map_or("", String::as_str)).collect();
        let values = if roles.id.as_deref() == Some(name) {
            id_column(raw, name, &cells)?
        } else if roles.outcome.as_deref() == Some(name) {
            outcome_column(raw, name, &cells)?
        } else if roles.continuous.iter().any(|x| x == name) {
            float_column(raw, name, &cells)?
        } else if roles.categorical.iter().any(|x| x == name) {
            Values::Text(cells.iter().map(|s| (!is_missing(s)).then(|| s.to_string())).collect())
        } else {
            infer_column(&cells)
        };
        columns.push(TypedColumn { name: name.clone(), values });
    }
    Ok(columns)
}

fn check_headers(raw: &RawTable) -> Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, h) in raw.headers.iter().enumerate() {
        if h.is_empty() {
            return Err(manifest_like(&raw.path, format!("header: column {} has no name", i + 1)));
        }
        if let Some(prev) = seen.insert(h.as_str(), i) {
            return Err(manifest_like(
                &raw.path,
                format!("header: column name `{h}` appears twice (columns {} and {})", prev + 1, i + 1),
            ));
        }
    }
    Ok(())
}

fn manifest_like(path: &Path, message: String) -> Error {
    Error::Io { path: path.to_path_buf(), message }
}

fn id_column(raw: &RawTable, name: &str, cells: &[&str]) -> Result<Values> {
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    for (r, &s) in cells.iter().enumerate() {
        if is_missing(s) {
            return Err(Error::Unparsable {
                path: raw.path.clone(),
                location: raw.locations[r].clone(),
                column: name.to_string(),
                value: s.to_string(),
                expected: "a patient id (ids may not be missing)".into(),
            });
        }
        if let Some(&prev) = first_seen.get(s) {
            return Err(Error::DuplicateId {
                path: raw.path.clone(),
                column: name.to_string(),
                id: s.to_string(),
                first: raw.locations[prev].clone(),
                second: raw.locations[r].clone(),
            });
        }
        first_seen.insert(s, r);
    }
    Ok(Values::Text(cells.iter().map(|s| Some(s.to_string())).collect()))
}

fn outcome_column(raw: &RawTable, name: &str, cells: &[&str]) -> Result<Values> {
    let mut out = Vec::with_capacity(cells.len());
    for (r, &s) in cells.iter().enumerate() {
        let v = s.parse::<f64>().ok().filter(|v| *v == 0.0 || *v == 1.0);
        match v {
            Some(v) => out.push(Some(v as i64)),
            None => {
                return Err(Error::NonBinaryOutcome {
                    path: raw.path.clone(),
                    column: name.to_string(),
                    location: raw.locations[r].clone(),
                    value: if s.is_empty() { "(empty)".into() } else { s.to_string() },
                });
            }
        }
    }
    Ok(Values::Int(out))
}

fn float_column(raw: &RawTable, name: &str, cells: &[&str]) -> Result<Values> {
    let mut out = Vec::with_capacity(cells.len());
    for (r, &s) in cells.iter().enumerate() {
        if is_missing(s) {
            out.push(None);
            continue;
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => out.push(Some(v)),
            _ => {
                return Err(Error::Unparsable {
                    path: raw.path.clone(),
                    location: raw.locations[r].clone(),
                    column: name.to_string(),
                    value: s.to_string(),
                    expected: "a number".into(),
                });
            }
        }
    }
    Ok(Values::Float(out))
}

/// Types a column without a declared role: int, float, bool, else text.
fn infer_column(cells: &[&str]) -> Values {
    let present = || cells.iter().filter(|s| !is_missing(s));
    if present().next().is_none() {
        return Values::Text(vec![None; cells.len()]);
    }
    if present().all(|s| s.parse::<i64>().is_ok()) {
        return Values::Int(cells.iter().map(|s| s.parse().ok()).collect());
    }
    if present().all(|s| s.parse::<f64>().is_ok_and(f64::is_finite)) {
        return Values::Float(cells.iter().map(|s| s.parse().ok().filter(|v: &f64| v.is_finite())).collect());
    }
    if present().all(|s| matches!(*s, "true" | "false" | "TRUE" | "FALSE" | "True" | "False")) {
        return Values::Bool(cells.iter().map(|s| (!is_missing(s)).then(|| s.eq_ignore_ascii_case("true"))).collect());
    }
    Values::Text(cells.iter().map(|s| (!is_missing(s)).then(|| s.to_string())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(headers: &[&str], rows: &[&[&str]]) -> RawTable {
        RawTable {
            path: PathBuf::from("c.csv"),
            headers: headers.iter().map(|s| s.to_string()).collect(),
            rows: rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect(),
            locations: (0..rows.len()).map(|i| format!("line {}", i + 2)).collect(),
        }
    }

    fn roles() -> Roles {
        Roles {
            id: Some("id".into()),
            outcome: Some("y".into()),
            categorical: vec!["sex".into()],
            continuous: vec!["age".into()],
        }
    }

    #[test]
    fn types_columns_by_role_and_inference() {
        let t = raw(
            &["id", "y", "sex", "age", "n", "note"],
            &[&["P1", "1", "m", "40.5", "3", "x"], &["P2", "0", "NA", "", "4", ""]],
        );
        let cols = type_and_validate(&t, &roles()).unwrap();
        assert_eq!(cols[1].values, Values::Int(vec![Some(1), Some(0)]));
        assert_eq!(cols[2].values, Values::Text(vec![Some("m".into()), None]));
        assert_eq!(cols[3].values, Values::Float(vec![Some(40.5), None]));
        assert_eq!(cols[4].values, Values::Int(vec![Some(3), Some(4)]));
        assert_eq!(cols[5].values.missing(), 1);
    }

    #[test]
    fn duplicate_id_names_both_rows() {
        let t = raw(&["id", "y", "sex", "age"], &[&["P1", "1", "m", "1"], &["P1", "0", "f", "2"]]);
        let e = type_and_validate(&t, &roles()).unwrap_err().to_string();
        assert_eq!(e, "c.csv: duplicate id `P1` in column `id` (line 2 and line 3)");
    }

    #[test]
    fn non_binary_outcome_and_bad_number() {
        let t = raw(&["id", "y", "sex", "age"], &[&["P1", "2", "m", "1"]]);
        assert!(type_and_validate(&t, &roles()).unwrap_err().to_string().contains("outcome must be 0 or 1, found `2`"));
        let t = raw(&["id", "y", "sex", "age"], &[&["P1", "1", "m", "4o"]]);
        assert_eq!(
            type_and_validate(&t, &roles()).unwrap_err().to_string(),
            "c.csv: line 2, column `age`: cannot read `4o` as a number"
        );
    }

    #[test]
    fn missing_role_column() {
        let t = raw(&["id", "y", "sex"], &[]);
        assert!(matches!(type_and_validate(&t, &roles()), Err(Error::UnknownColumn { column, .. }) if column == "age"));
    }
}
