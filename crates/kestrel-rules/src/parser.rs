//! The Falco condition language, parsed into an [`Ast`] that still names macros, lists and fields
//! by their text. Resolution (macros, lists, fields, operators' value types) happens in
//! [`crate::compile`], so that one parser serves rules, macros and exceptions alike.
//!
//! Grammar (Falco's, as far as Kestrel implements it):
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | check | MACRO
//! check   := FIELD op value | FIELD "exists"
//! value   := WORD | 'quoted' | "quoted" | "(" [item ("," item)*] ")" | "val(" FIELD ")"
//! ```
//!
//! A bare word after an operator runs to the next blank, parenthesis or comma, so `evt.dir=<` and
//! `fd.name=/etc/shadow` need no quotes, as in Falco.

use std::fmt;

/// A byte offset into the condition text.
pub type Pos = usize;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    In,
    Intersects,
    Pmatch,
    Regex,
    Exists,
}

impl Op {
    /// Parses an operator as written in a condition or in an exception's `comps`.
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::Pmatch,
            "regex" => Op::Regex,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Pmatch => "pmatch",
            Op::Regex => "regex",
            Op::Exists => "exists",
        }
    }

    /// Operators whose right-hand side is a list.
    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field reference: `proc.aname[2]` is name `proc.aname`, argument `2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    pub name: String,
    pub arg: Option<String>,
    pub pos: Pos,
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.arg {
            Some(a) => write!(f, "{}[{}]", self.name, a),
            None => f.write_str(&self.name),
        }
    }
}

/// One literal on the right of an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub text: String,
    /// Quoted literals are never taken for list names.
    pub quoted: bool,
    pub pos: Pos,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    None,
    Single(Literal),
    List(Vec<Literal>),
    /// `val(field)`: compare against another field of the same event.
    Field(FieldRef),
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ast {
    And(Vec<Ast>),
    Or(Vec<Ast>),
    Not(Box<Ast>),
    Macro {
        name: String,
        pos: Pos,
    },
    Check {
        field: FieldRef,
        /// A transformer such as `tolower` wrapped around the field.
        transformer: Option<String>,
        op: Op,
        op_pos: Pos,
        value: Operand,
    },
}

/// A syntax error at a byte offset of the condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Parses a whole condition.
pub fn parse(text: &str) -> Result<Ast, SyntaxError> {
    let mut p = Parser { s: text, i: 0 };
    let ast = p.expr()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err(format!("unexpected {:?}", p.peek_word())));
    }
    Ok(ast)
}

struct Parser<'a> {
    s: &'a str,
    i: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_field_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-'
}

impl<'a> Parser<'a> {
    fn err(&self, message: String) -> SyntaxError {
        SyntaxError {
            pos: self.i,
            message,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && self.bytes()[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    fn peek_word(&self) -> &'a str {
        let rest = &self.s[self.i..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .unwrap_or(rest.len())
            .max(rest.chars().next().map_or(0, char::len_utf8));
        &rest[..end]
    }

    /// Consumes `kw` if it is the next whole word.
    fn keyword(&mut self, kw: &str) -> bool {
        self.ws();
        let rest = &self.bytes()[self.i..];
        if rest.len() >= kw.len()
            && rest[..kw.len()].eq_ignore_ascii_case(kw.as_bytes())
            && rest.get(kw.len()).is_none_or(|&c| !is_field_char(c))
        {
            self.i += kw.len();
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Ast, SyntaxError> {
        let mut items = vec![self.and()?];
        while self.keyword("or") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Ast::Or(items)
        })
    }

    fn and(&mut self) -> Result<Ast, SyntaxError> {
        let mut items = vec![self.unary()?];
        while self.keyword("and") {
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Ast::And(items)
        })
    }

    fn unary(&mut self) -> Result<Ast, SyntaxError> {
        if self.keyword("not") {
            return Ok(Ast::Not(Box::new(self.unary()?)));
        }
        self.ws();
        match self.peek() {
            Some(b'(') => {
                self.i += 1;
                let e = self.expr()?;
                self.ws();
                if self.peek() != Some(b')') {
                    return Err(self.err(format!(
                        "expected ')' or an operator (and, or), found {:?}",
                        self.peek_word()
                    )));
                }
                self.i += 1;
                Ok(e)
            }
            Some(c) if is_ident_start(c) => self.check_or_macro(),
            None => Err(self.err("unexpected end of condition".into())),
            Some(_) => Err(self.err(format!(
                "expected a field, a macro, 'not' or '(', found {:?}",
                self.peek_word()
            ))),
        }
    }

    fn ident(&mut self) -> (&'a str, Pos) {
        let start = self.i;
        while self.i < self.s.len() && is_field_char(self.bytes()[self.i]) {
            self.i += 1;
        }
        (&self.s[start..self.i], start)
    }

    /// `[arg]` directly after a field name.
    fn field_arg(&mut self) -> Result<Option<String>, SyntaxError> {
        if self.peek() != Some(b'[') {
            return Ok(None);
        }
        let start = self.i + 1;
        let Some(len) = self.s[start..].find(']') else {
            return Err(self.err("unterminated field argument: missing ']'".into()));
        };
        self.i = start + len + 1;
        let arg = self.s[start..start + len].trim();
        Ok(Some(arg.trim_matches(|c| c == '"' || c == '\'').to_owned()))
    }

    fn field_ref(&mut self) -> Result<FieldRef, SyntaxError> {
        self.ws();
        let (name, pos) = self.ident();
        if name.is_empty() {
            return Err(self.err(format!("expected a field, found {:?}", self.peek_word())));
        }
        let arg = self.field_arg()?;
        Ok(FieldRef {
            name: name.to_owned(),
            arg,
            pos,
        })
    }

    fn check_or_macro(&mut self) -> Result<Ast, SyntaxError> {
        let (name, pos) = self.ident();
        // A transformer wraps the field: `tolower(proc.name) = bash`.
        let mut transformer = None;
        let field = if self.peek() == Some(b'(') && !name.contains('.') {
            self.i += 1;
            transformer = Some(name.to_owned());
            let f = self.field_ref()?;
            self.ws();
            if self.peek() != Some(b')') {
                return Err(self.err(format!("expected ')' after {name}(...")));
            }
            self.i += 1;
            f
        } else {
            let arg = self.field_arg()?;
            FieldRef {
                name: name.to_owned(),
                arg,
                pos,
            }
        };
        let save = self.i;
        self.ws();
        let op_pos = self.i;
        let Some(op) = self.operator() else {
            if transformer.is_none() && field.arg.is_none() && !field.name.contains('.') {
                self.i = save;
                return Ok(Ast::Macro {
                    name: field.name,
                    pos,
                });
            }
            return Err(self.err(format!(
                "expected an operator after field {field}, found {:?}",
                self.peek_word()
            )));
        };
        let value = if op == Op::Exists {
            Operand::None
        } else {
            self.operand(op)?
        };
        Ok(Ast::Check {
            field,
            transformer,
            op,
            op_pos,
            value,
        })
    }

    fn operator(&mut self) -> Option<Op> {
        let rest = &self.s[self.i..];
        for sym in ["==", "!=", "<=", ">=", "=", "<", ">"] {
            if rest.starts_with(sym) {
                self.i += sym.len();
                return Op::parse(sym);
            }
        }
        let (word, _) = {
            let start = self.i;
            let mut j = self.i;
            while j < self.s.len() && self.bytes()[j].is_ascii_alphabetic() {
                j += 1;
            }
            (&self.s[start..j], start)
        };
        let op = Op::parse(&word.to_ascii_lowercase())?;
        self.i += word.len();
        Some(op)
    }

    fn operand(&mut self, op: Op) -> Result<Operand, SyntaxError> {
        self.ws();
        match self.peek() {
            Some(b'(') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.peek() == Some(b')') {
                        self.i += 1;
                        break;
                    }
                    items.push(self.literal(true)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b')') => {
                            self.i += 1;
                            break;
                        }
                        _ => {
                            return Err(self.err(format!(
                                "expected ',' or ')' in a list, found {:?}",
                                self.peek_word()
                            )));
                        }
                    }
                }
                Ok(Operand::List(items))
            }
            None => Err(self.err(format!("expected a value after operator {op}"))),
            _ => {
                let rest = &self.s[self.i..];
                if rest.starts_with("val(") {
                    self.i += 4;
                    let f = self.field_ref()?;
                    self.ws();
                    if self.peek() != Some(b')') {
                        return Err(self.err("expected ')' after val(...".into()));
                    }
                    self.i += 1;
                    return Ok(Operand::Field(f));
                }
                Ok(Operand::Single(self.literal(false)?))
            }
        }
    }

    fn literal(&mut self, in_list: bool) -> Result<Literal, SyntaxError> {
        let pos = self.i;
        match self.peek() {
            Some(q @ (b'"' | b'\'')) => {
                self.i += 1;
                let mut text = String::new();
                loop {
                    let Some(c) = self.s[self.i..].chars().next() else {
                        return Err(SyntaxError {
                            pos,
                            message: "unterminated quoted string".into(),
                        });
                    };
                    self.i += c.len_utf8();
                    if c as u32 == q as u32 {
                        break;
                    }
                    if c == '\\'
                        && let Some(n) = self.s[self.i..].chars().next()
                    {
                        self.i += n.len_utf8();
                        text.push(n);
                        continue;
                    }
                    text.push(c);
                }
                Ok(Literal {
                    text,
                    quoted: true,
                    pos,
                })
            }
            _ => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if c.is_ascii_whitespace() || c == b'(' || c == b')' || (in_list && c == b',') {
                        break;
                    }
                    self.i += 1;
                }
                if self.i == start {
                    return Err(self.err(format!("expected a value, found {:?}", self.peek_word())));
                }
                Ok(Literal {
                    text: self.s[start..self.i].to_owned(),
                    quoted: false,
                    pos,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: expect_test::Expect) {
        let out = match parse(input) {
            Ok(ast) => format!("{ast:?}"),
            Err(e) => format!("error at {}: {}", e.pos, e.message),
        };
        expect.assert_eq(&out);
    }

    #[test]
    fn bare_words_and_lists() {
        check(
            "evt.dir=< and fd.name in (/etc/shadow, 'a b', shell_binaries)",
            expect_test::expect![[
                r#"And([Check { field: FieldRef { name: "evt.dir", arg: None, pos: 0 }, transformer: None, op: Eq, op_pos: 7, value: Single(Literal { text: "<", quoted: false, pos: 8 }) }, Check { field: FieldRef { name: "fd.name", arg: None, pos: 14 }, transformer: None, op: In, op_pos: 22, value: List([Literal { text: "/etc/shadow", quoted: false, pos: 26 }, Literal { text: "a b", quoted: true, pos: 39 }, Literal { text: "shell_binaries", quoted: false, pos: 46 }]) }])"#
            ]],
        );
    }

    #[test]
    fn precedence_macros_and_args() {
        check(
            "not spawned_process or proc.aname[2]=sh and k8s.pod.label[app] exists",
            expect_test::expect![[
                r#"Or([Not(Macro { name: "spawned_process", pos: 4 }), And([Check { field: FieldRef { name: "proc.aname", arg: Some("2"), pos: 23 }, transformer: None, op: Eq, op_pos: 36, value: Single(Literal { text: "sh", quoted: false, pos: 37 }) }, Check { field: FieldRef { name: "k8s.pod.label", arg: Some("app"), pos: 44 }, transformer: None, op: Exists, op_pos: 63, value: None }])])"#
            ]],
        );
    }

    #[test]
    fn errors_carry_positions() {
        check(
            "proc.name = bash and (",
            expect_test::expect!["error at 22: unexpected end of condition"],
        );
        check(
            "proc.name bash",
            expect_test::expect![[
                r#"error at 10: expected an operator after field proc.name, found "bash""#
            ]],
        );
        check(
            "proc.name in (a, b",
            expect_test::expect![[r#"error at 18: expected ',' or ')' in a list, found """#]],
        );
        check(
            "(proc.name = a",
            expect_test::expect![[
                r#"error at 14: expected ')' or an operator (and, or), found """#
            ]],
        );
        check(
            "fd.name = 'abc",
            expect_test::expect!["error at 10: unterminated quoted string"],
        );
    }
}
