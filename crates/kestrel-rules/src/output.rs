//! Output templates: `%field` placeholders in a rule's `output`, resolved at load time and
//! rendered per alert.

use std::collections::BTreeMap;

use kestrel_event::Event;

use crate::fields::{self, Ctx, Field};

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    /// A Falco field Kestrel has no data for.
    Missing(String),
    Field {
        name: String,
        field: Field,
    },
}

/// A parsed output template.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

/// Fields every alert carries in `output_fields` when the event has them.
const BASE_FIELDS: &[&str] = &[
    "proc.pid",
    "proc.name",
    "proc.exepath",
    "proc.cmdline",
    "proc.pname",
    "user.uid",
    "container.id",
    "container.name",
    "container.image.repository",
    "k8s.pod.name",
    "k8s.ns.name",
];

impl Template {
    /// Parses `text`; an unknown `%field` is an error naming it.
    pub fn parse(text: &str) -> Result<Template, String> {
        Template::parse_lenient(text).map(|(t, _)| t)
    }

    /// Parses `text`, accepting Falco fields Kestrel has no data for (rendered `<NA>`) and
    /// returning their names.
    pub fn parse_lenient(text: &str) -> Result<(Template, Vec<String>), String> {
        let mut missing = Vec::new();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'.')
                {
                    j += 1;
                }
                // A trailing dot ends a sentence, not a field name.
                while j > start && b[j - 1] == b'.' {
                    j -= 1;
                }
                let name = &text[start..j];
                let mut arg = None;
                if b.get(j) == Some(&b'[')
                    && let Some(end) = text[j..].find(']')
                {
                    arg = Some(&text[j + 1..j + end]);
                    j += end + 1;
                }
                if !lit.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut lit)));
                }
                let field = match fields::resolve(name, arg) {
                    Ok((f, _)) => f,
                    Err(fields::FieldError::Unknown)
                        if fields::FALCO_FIELDS_WITHOUT_DATA.contains(&name) =>
                    {
                        missing.push(name.to_owned());
                        parts.push(Part::Missing(name.to_owned()));
                        i = j;
                        continue;
                    }
                    Err(fields::FieldError::Unknown) => {
                        return Err(format!("unsupported field %{name}"));
                    }
                    Err(fields::FieldError::BadArg(m)) => return Err(m),
                };
                parts.push(Part::Field {
                    name: match arg {
                        Some(a) => format!("{name}[{a}]"),
                        None => name.to_owned(),
                    },
                    field,
                });
                i = j;
            } else {
                let ch = text[i..].chars().next().expect("in bounds");
                lit.push(ch);
                i += ch.len_utf8();
            }
        }
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok((Template { parts }, missing))
    }

    /// The rendered text and the `output_fields` object.
    pub fn render(
        &self,
        ev: &Event,
        cx: &Ctx<'_>,
    ) -> (String, BTreeMap<String, serde_json::Value>) {
        let mut out = String::new();
        let mut map = BTreeMap::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Missing(name) => {
                    out.push_str("<NA>");
                    map.insert(name.clone(), serde_json::Value::Null);
                }
                Part::Field { name, field } => match fields::extract(field, ev, cx) {
                    Some(v) => {
                        use std::fmt::Write;
                        let _ = write!(out, "{v}");
                        map.insert(name.clone(), v.to_json());
                    }
                    None => {
                        out.push_str("<NA>");
                        map.insert(name.clone(), serde_json::Value::Null);
                    }
                },
            }
        }
        for name in BASE_FIELDS {
            if map.contains_key(*name) {
                continue;
            }
            let (field, _) = fields::resolve(name, None).expect("base fields are in the table");
            if let Some(v) = fields::extract(&field, ev, cx) {
                map.insert((*name).to_owned(), v.to_json());
            }
        }
        (out, map)
    }

    /// The field names the template refers to.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field { name, .. } => Some(name.as_str()),
            Part::Text(_) | Part::Missing(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_and_fields() {
        let t = Template::parse("File %fd.name opened by %proc.aname[2] (100%).").unwrap();
        assert_eq!(
            t.field_names().collect::<Vec<_>>(),
            ["fd.name", "proc.aname[2]"]
        );
        assert_eq!(
            Template::parse("x %proc.nope y").unwrap_err(),
            "unsupported field %proc.nope"
        );
    }
}
