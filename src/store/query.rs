//! The run filter language of `runs --where`, `best --where`:
//!
//! ```text
//! expr  := term ('or' term)*          term := factor ('and' factor)*
//! factor:= 'not' factor | '(' expr ')' | field op value | field ['not'] 'in' '(' value, … ')'
//! op    := = | != | < | <= | > | >=
//! field := id | parent | kind | status | command | started | ended | seed | version
//!        | experiment | model | metric.NAME | param.NAME | NAME (a metric, else a parameter)
//! value := number | 'text' | "text" | word
//! ```
//!
//! It is parsed into a typed expression and turned into SQL whose values
//! are all bound parameters: no text from the user is ever pasted into SQL.

use super::db::Dialect;
use crate::error::{Error, Result, Span};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
}

/// What a field names.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A column of `runs` (or the experiment's name).
    Column(&'static str),
    /// The run's model: the `model` parameter (a deep model's name), else `label`, else `pipeline`.
    Model,
    Metric(String),
    Param(String),
    /// A bare name: a metric if the run has it, else a parameter.
    Either(String),
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Cmp(Field, Op, Value),
    In(Field, Vec<Value>, bool),
    Not(Box<Expr>),
    /// The field has no value (built by programs, e.g. top-level runs:
    /// `parent` absent; the language itself has no syntax for it).
    Absent(Field),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

const COLUMNS: &[(&str, &str)] = &[
    ("id", "r.id"),
    ("parent", "r.parent_id"),
    ("kind", "r.kind"),
    ("status", "r.status"),
    ("command", "r.command"),
    ("started", "r.started_at"),
    ("ended", "r.ended_at"),
    ("seed", "r.seed"),
    ("version", "r.program_version"),
    ("experiment", "(SELECT name FROM experiments e WHERE e.id = r.experiment_id)"),
];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(f64),
    Op(Op),
    LParen,
    RParen,
    Comma,
}

fn error(text: &str, at: usize, message: impl Into<String>) -> Error {
    Error::Syntax {
        message: format!("{} (at character {} of `{text}`)", message.into(), at + 1),
        span: Span::new(at, at + 1),
    }
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::LParen, at));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, at));
                i += 1;
            }
            ',' => {
                out.push((Tok::Comma, at));
                i += 1;
            }
            '\'' | '"' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(error(text, at, "this quote is never closed")),
                        Some((_, q)) if *q == c => {
                            // A doubled quote is a literal quote.
                            if chars.get(j + 1).is_some_and(|(_, n)| *n == c) {
                                s.push(c);
                                j += 2;
                                continue;
                            }
                            break;
                        }
                        Some((_, ch)) => {
                            s.push(*ch);
                            j += 1;
                        }
                    }
                }
                out.push((Tok::Str(s), at));
                i = j + 1;
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).map(|(_, n)| *n);
                let (op, len) = match (c, next) {
                    ('=', Some('=')) => (Op::Eq, 2),
                    ('=', _) => (Op::Eq, 1),
                    ('!', Some('=')) => (Op::Ne, 2),
                    ('<', Some('=')) => (Op::Le, 2),
                    ('<', Some('>')) => (Op::Ne, 2),
                    ('<', _) => (Op::Lt, 1),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('>', _) => (Op::Gt, 1),
                    _ => return Err(error(text, at, "`!` must be followed by `=`")),
                };
                out.push((Tok::Op(op), at));
                i += len;
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' || c == '-' || c == '+' || c == ':' => {
                let mut j = i;
                while j < chars.len() {
                    let ch = chars[j].1;
                    if ch.is_alphanumeric() || matches!(ch, '_' | '.' | '-' | '+' | ':') {
                        j += 1;
                    } else {
                        break;
                    }
                }
                let word: String = chars[i..j].iter().map(|(_, ch)| *ch).collect();
                let tok = match word.parse::<f64>() {
                    Ok(n) if !word.starts_with('+') || word.len() > 1 => Tok::Num(n),
                    _ => Tok::Word(word),
                };
                out.push((tok, at));
                i = j;
            }
            other => return Err(error(text, at, format!("unexpected `{other}`"))),
        }
    }
    Ok(out)
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    /// Nesting of `(` and `not`, bounded so no input can exhaust the stack.
    depth: usize,
}

/// Deepest nesting of parentheses and `not` a filter may use.
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.text.len(), |(_, a)| *a)
    }
    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }
    fn expr(&mut self) -> Result<Expr> {
        let mut left = self.term()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.term()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn term(&mut self) -> Result<Expr> {
        let mut left = self.factor()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.factor()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn factor(&mut self) -> Result<Expr> {
        if self.depth >= MAX_DEPTH {
            return Err(error(self.text, self.at(), format!("the filter nests deeper than {MAX_DEPTH} levels")));
        }
        if self.keyword("not") {
            self.pos += 1;
            self.depth += 1;
            let inner = self.factor()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            self.depth += 1;
            let e = self.expr()?;
            self.depth -= 1;
            if self.peek() != Some(&Tok::RParen) {
                return Err(error(self.text, self.at(), "expected `)`"));
            }
            self.pos += 1;
            return Ok(e);
        }
        let field = self.field()?;
        let negated = if self.keyword("not") {
            self.pos += 1;
            if !self.keyword("in") {
                return Err(error(self.text, self.at(), "expected `in` after `not`"));
            }
            true
        } else {
            false
        };
        if self.keyword("in") {
            self.pos += 1;
            if self.peek() != Some(&Tok::LParen) {
                return Err(error(self.text, self.at(), "expected `(` after `in`"));
            }
            self.pos += 1;
            let mut values = vec![self.value()?];
            while self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
                values.push(self.value()?);
            }
            if self.peek() != Some(&Tok::RParen) {
                return Err(error(self.text, self.at(), "expected `,` or `)` in the `in` list"));
            }
            self.pos += 1;
            return Ok(Expr::In(field, values, negated));
        }
        let Some(Tok::Op(op)) = self.peek().cloned() else {
            return Err(error(self.text, self.at(), "expected a comparison (= != < <= > >=) or `in`"));
        };
        self.pos += 1;
        let v = self.value()?;
        Ok(Expr::Cmp(field, op, v))
    }
    fn field(&mut self) -> Result<Field> {
        let at = self.at();
        let Some(Tok::Word(w)) = self.peek().cloned() else {
            return Err(error(
                self.text,
                at,
                "expected a field name (e.g. status, model, auc_pooled, metric.auc, param.folds)",
            ));
        };
        self.pos += 1;
        if ["and", "or", "not", "in"].iter().any(|k| w.eq_ignore_ascii_case(k)) {
            return Err(error(self.text, at, format!("expected a field name, found `{w}`")));
        }
        let lower = w.to_ascii_lowercase();
        if let Some((_, col)) = COLUMNS.iter().find(|(n, _)| *n == lower) {
            return Ok(Field::Column(col));
        }
        if lower == "model" {
            return Ok(Field::Model);
        }
        for (prefix, metric) in
            [("metric.", true), ("metrics.", true), ("m.", true), ("param.", false), ("params.", false), ("p.", false)]
        {
            if let Some(name) = w.strip_prefix(prefix) {
                if name.is_empty() {
                    return Err(error(
                        self.text,
                        at,
                        format!("`{w}` names no {}", if metric { "metric" } else { "parameter" }),
                    ));
                }
                return Ok(if metric { Field::Metric(name.to_string()) } else { Field::Param(name.to_string()) });
            }
        }
        Ok(Field::Either(w))
    }
    fn value(&mut self) -> Result<Value> {
        let at = self.at();
        let v = match self.peek().cloned() {
            Some(Tok::Num(n)) => Value::Number(n),
            Some(Tok::Str(s)) => Value::Text(s),
            Some(Tok::Word(w)) if !["and", "or", "not", "in"].iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                Value::Text(w)
            }
            _ => return Err(error(self.text, at, "expected a value (a number, a word or a quoted text)")),
        };
        self.pos += 1;
        Ok(v)
    }
}

/// Parses a filter expression.
pub fn parse(text: &str) -> Result<Expr> {
    let toks = lex(text)?;
    if toks.is_empty() {
        return Err(error(text, 0, "the filter is empty"));
    }
    let mut p = Parser { text, toks, pos: 0, depth: 0 };
    let e = p.expr()?;
    if p.pos < p.toks.len() {
        return Err(error(text, p.at(), "unexpected text after the filter (join conditions with `and` / `or`)"));
    }
    Ok(e)
}

/// A bound SQL parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Real(f64),
    Text(String),
}

impl From<&Value> for Bound {
    fn from(v: &Value) -> Bound {
        match v {
            Value::Number(n) => Bound::Real(*n),
            Value::Text(t) => Bound::Text(t.clone()),
        }
    }
}

/// Run `r`'s value of one metric (the key is bound): the last value logged
/// without a step, one logged without a fold first — the reading
/// `store::records::run_value` gives in Rust, so a fold run's own `auc`
/// (stored with its fold number) is its value for `--where` and `--sort`.
pub const RUN_METRIC: &str = "(SELECT m.value FROM metrics m WHERE m.run_id = r.id AND m.key = ? AND m.step IS NULL \
     ORDER BY m.fold IS NULL DESC, m.id DESC LIMIT 1)";

/// Run `r`'s value of one parameter (the key is bound).
const RUN_PARAM: &str = "(SELECT p.value FROM params p WHERE p.run_id = r.id AND p.key = ?)";

/// PostgreSQL keeps parameter values as text: a number parameter's value
/// as a number (text parameters have none).
const RUN_PARAM_NUMBER: &str = "(SELECT CASE WHEN p.type <> 'text' THEN CAST(p.value AS DOUBLE PRECISION) END \
     FROM params p WHERE p.run_id = r.id AND p.key = ?)";

/// The `runs` columns that hold numbers.
const NUMBER_COLUMNS: &[&str] = &["r.id", "r.parent_id", "r.seed"];

/// How a field is read where the dialect needs to know. SQLite compares
/// values of any type (every number before every text); PostgreSQL
/// compares a number with a field's number (a metric, a number parameter,
/// a numeric column) and a text with its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Any,
    Number,
    Text,
}

/// SQL for a field's value of run `r` (a scalar subquery for metrics and
/// parameters), as SQLite reads it; names are bound, never pasted.
pub fn field_sql(f: &Field, binds: &mut Vec<Bound>) -> String {
    field_sql_in(f, binds, Dialect::Sqlite, Reading::Any)
}

/// [`field_sql`] in `dialect`, read as `reading` (PostgreSQL: `Any` reads text).
pub fn field_sql_in(f: &Field, binds: &mut Vec<Bound>, dialect: Dialect, reading: Reading) -> String {
    let reading = match (dialect, reading) {
        (Dialect::Sqlite, _) => Reading::Any,
        (Dialect::Postgres, Reading::Any) => Reading::Text,
        (_, r) => r,
    };
    let metric = match reading {
        Reading::Text => format!("CAST({RUN_METRIC} AS TEXT)"),
        _ => RUN_METRIC.to_string(),
    };
    let param = match reading {
        Reading::Number => RUN_PARAM_NUMBER,
        _ => RUN_PARAM,
    };
    let no_number = "CAST(NULL AS DOUBLE PRECISION)".to_string();
    match f {
        Field::Column(c) => match reading {
            Reading::Any => (*c).to_string(),
            Reading::Number if NUMBER_COLUMNS.contains(c) => (*c).to_string(),
            Reading::Number => no_number,
            Reading::Text if NUMBER_COLUMNS.contains(c) => format!("CAST({c} AS TEXT)"),
            Reading::Text => (*c).to_string(),
        },
        Field::Model if reading == Reading::Number => no_number,
        Field::Model => {
            // A deep model's declared name (`model M8 = …`), else the run's
            // label (e.g. T1+Dose), else its pipeline's name.
            binds.push(Bound::Text("model".into()));
            binds.push(Bound::Text("label".into()));
            binds.push(Bound::Text("pipeline".into()));
            format!("COALESCE({RUN_PARAM}, {RUN_PARAM}, {RUN_PARAM})")
        }
        Field::Metric(name) => {
            binds.push(Bound::Text(name.clone()));
            metric
        }
        Field::Param(name) => {
            binds.push(Bound::Text(name.clone()));
            param.to_string()
        }
        Field::Either(name) => {
            binds.push(Bound::Text(name.clone()));
            binds.push(Bound::Text(name.clone()));
            format!("COALESCE({metric}, {param})")
        }
    }
}

/// SQL for a filter over `runs r` as SQLite reads it, with its bound values in order.
pub fn to_sql(e: &Expr, binds: &mut Vec<Bound>) -> String {
    to_sql_in(e, binds, Dialect::Sqlite)
}

fn reading_of(v: &Value) -> Reading {
    match v {
        Value::Number(_) => Reading::Number,
        Value::Text(_) => Reading::Text,
    }
}

/// [`to_sql`] in `dialect`.
pub fn to_sql_in(e: &Expr, binds: &mut Vec<Bound>, dialect: Dialect) -> String {
    match e {
        Expr::Cmp(f, op, v) => {
            let lhs = field_sql_in(f, binds, dialect, reading_of(v));
            binds.push(v.into());
            format!("({lhs} {} ?)", op.sql())
        }
        Expr::In(f, vs, negated) if dialect == Dialect::Sqlite => {
            let lhs = field_sql(f, binds);
            binds.extend(vs.iter().map(Bound::from));
            let marks = vec!["?"; vs.len()].join(", ");
            format!("({lhs} {}IN ({marks}))", if *negated { "NOT " } else { "" })
        }
        Expr::In(f, vs, negated) => {
            // Numbers against the field's number, texts against its text.
            let mut parts = Vec::new();
            for reading in [Reading::Number, Reading::Text] {
                let these: Vec<&Value> = vs.iter().filter(|v| reading_of(v) == reading).collect();
                if these.is_empty() {
                    continue;
                }
                let lhs = field_sql_in(f, binds, dialect, reading);
                binds.extend(these.iter().map(|v| Bound::from(*v)));
                parts.push(format!("{lhs} IN ({})", vec!["?"; these.len()].join(", ")));
            }
            if parts.is_empty() {
                return if *negated { "(1 = 1)".into() } else { "(1 = 0)".into() };
            }
            let any = format!("({})", parts.join(" OR "));
            if *negated { format!("(NOT {any})") } else { any }
        }
        Expr::Not(x) => format!("(NOT {})", to_sql_in(x, binds, dialect)),
        Expr::Absent(f) => format!("({} IS NULL)", field_sql_in(f, binds, dialect, Reading::Any)),
        Expr::And(a, b) => {
            let l = to_sql_in(a, binds, dialect);
            let r = to_sql_in(b, binds, dialect);
            format!("({l} AND {r})")
        }
        Expr::Or(a, b) => {
            let l = to_sql_in(a, binds, dialect);
            let r = to_sql_in(b, binds, dialect);
            format!("({l} OR {r})")
        }
    }
}

/// A built-in column by its filter name (`kind`, `experiment`, …).
pub fn column(name: &str) -> Option<Field> {
    COLUMNS.iter().find(|(n, _)| *n == name).map(|(_, sql)| Field::Column(sql))
}

/// Parses a sort key (any field).
pub fn parse_field(text: &str) -> Result<Field> {
    let toks = lex(text)?;
    let mut p = Parser { text, toks, pos: 0, depth: 0 };
    let f = p.field()?;
    if p.pos < p.toks.len() {
        return Err(error(text, p.at(), "a sort key is one field"));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_precedence_and_lists() {
        let e = parse("auc_pooled > 0.7 and not status = failed or model in ('T1', \"T2\")").unwrap();
        let Expr::Or(left, right) = e else { panic!("or binds loosest") };
        assert!(matches!(*left, Expr::And(_, _)));
        assert_eq!(*right, Expr::In(Field::Model, vec![Value::Text("T1".into()), Value::Text("T2".into())], false));
        assert_eq!(
            parse("param.folds >= 5").unwrap(),
            Expr::Cmp(Field::Param("folds".into()), Op::Ge, Value::Number(5.0))
        );
        assert!(matches!(parse("kind not in (cv)").unwrap(), Expr::In(_, _, true)));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let deep = "(".repeat(100) + "a = 1";
        for (text, at) in [
            ("auc >", 5),
            ("auc > 0.5 status = x", 10),
            ("(auc > 1", 8),
            ("auc ~ 2", 4),
            ("'open", 0),
            ("and = 1", 0),
            (deep.as_str(), 64),
        ] {
            match parse(text) {
                Err(Error::Syntax { span, .. }) => assert_eq!(span.start, at, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn hostile_text_stays_a_bound_value() {
        let e = parse("command = 'x''); DROP TABLE runs; --'").unwrap();
        let mut binds = Vec::new();
        let sql = to_sql(&e, &mut binds);
        assert_eq!(sql, "(r.command = ?)");
        assert_eq!(binds, vec![Bound::Text("x'); DROP TABLE runs; --".into())]);
    }
}
