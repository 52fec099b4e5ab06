//! Reading manifests: files, directories, multi-document YAML streams and JSON dumps.
//!
//! This is the file-system edge of the crate; everything it reads goes through
//! [`Inventory::add_value`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::error::LoadError;
use crate::inventory::Inventory;
use crate::object::Origin;

/// Parses one text (a file or standard input) and adds its objects to `inventory`.
///
/// JSON (a single object, a `List`, or several concatenated objects) is detected by its first
/// character; anything else is read as a YAML stream of `---`-separated documents.
pub fn load_str(inventory: &mut Inventory, text: &str, source: &str) -> Result<(), LoadError> {
    let source: Arc<str> = Arc::from(source);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let stream = serde_json::Deserializer::from_str(trimmed).into_iter::<Value>();
        for (i, value) in stream.enumerate() {
            let value = value.map_err(|e| LoadError::Json {
                source_name: source.clone(),
                source: e,
            })?;
            let origin = Origin {
                source: source.clone(),
                document: i + 1,
                line: None,
            };
            match value {
                Value::Array(items) => {
                    for item in items {
                        inventory.add_value(item, &origin)?;
                    }
                }
                v => inventory.add_value(v, &origin)?,
            }
        }
        return Ok(());
    }
    let docs = split_documents(text);
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(docs.len() / PARALLEL_MIN_DOCUMENTS);
    if threads <= 1 {
        return load_documents(inventory, &docs, 0, &source);
    }
    // YAML parsing is most of a large scan; documents are independent, so contiguous chunks
    // are parsed and typed on their own threads and appended in order, which keeps the
    // result (and which error is reported first) the same as a sequential read.
    let chunk = docs.len().div_ceil(threads);
    let parts: Vec<Result<Inventory, LoadError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = docs
            .chunks(chunk)
            .enumerate()
            .map(|(i, part)| {
                let source = &source;
                scope.spawn(move || {
                    let mut inv = Inventory::new();
                    load_documents(&mut inv, part, i * chunk, source).map(|()| inv)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for part in parts {
        inventory.append(part?);
    }
    Ok(())
}

/// Below this many documents per thread a stream is read on the calling thread: starting
/// threads would cost more than they save.
const PARALLEL_MIN_DOCUMENTS: usize = 256;

/// Parses YAML documents (`(start line, text)`, the first being document `first + 1`) and adds
/// their objects to `inventory`.
fn load_documents(
    inventory: &mut Inventory,
    docs: &[(usize, &str)],
    first: usize,
    source: &Arc<str>,
) -> Result<(), LoadError> {
    for (index, (line, doc)) in docs.iter().enumerate() {
        let (line, document) = (*line, first + index + 1);
        if doc.trim().is_empty() {
            continue;
        }
        let value: Value = serde_norway::from_str(doc).map_err(|e| LoadError::Yaml {
            source_name: source.clone(),
            document,
            line: line + e.location().map_or(0, |l| l.line().saturating_sub(1)),
            message: e.to_string(),
        })?;
        let origin = Origin {
            source: source.clone(),
            document,
            line: Some(line),
        };
        inventory.add_value(value, &origin)?;
    }
    Ok(())
}

/// Splits a YAML stream at `---` document markers, returning each document with the 1-based
/// line its content starts on. Splitting here rather than in the YAML parser is what gives
/// every object a line number for reports.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_marker = bare == "---" || bare.starts_with("--- ") || bare == "...";
        if is_marker {
            docs.push((start_line, &text[start..offset]));
            // Content after `--- ` on the marker line belongs to the next document.
            start = if bare.starts_with("--- ") {
                offset + 4
            } else {
                offset + line.len()
            };
            start_line = if bare.starts_with("--- ") {
                i + 1
            } else {
                i + 2
            };
        }
        offset += line.len();
    }
    docs.push((start_line, &text[start..]));
    docs
}

/// Reads a file, or every manifest under a directory (recursively, in name order, skipping
/// hidden entries), into `inventory`. A directory without any manifest is an error: a typo in
/// a path must not look like a clean scan.
pub fn load_path(inventory: &mut Inventory, path: &Path) -> Result<(), LoadError> {
    let meta = std::fs::metadata(path).map_err(|e| LoadError::Read {
        path: path.to_owned(),
        source: e,
    })?;
    if meta.is_dir() {
        let mut files = Vec::new();
        collect_manifests(path, &mut files)?;
        if files.is_empty() {
            return Err(LoadError::NoManifests {
                path: path.to_owned(),
            });
        }
        for f in files {
            load_file(inventory, &f)?;
        }
        Ok(())
    } else {
        load_file(inventory, path)
    }
}

fn load_file(inventory: &mut Inventory, path: &Path) -> Result<(), LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError::Read {
        path: path.to_owned(),
        source: e,
    })?;
    load_str(inventory, &text, &path.display().to_string())
}

fn collect_manifests(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let read_err = |e| LoadError::Read {
        path: dir.to_owned(),
        source: e,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect_manifests(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream long enough to be read on several threads keeps document order, and the
    /// error reported is the first in the stream, with its document and line.
    #[test]
    fn long_streams_read_in_order_and_report_the_first_error() {
        let n = PARALLEL_MIN_DOCUMENTS * 3;
        let pod = |i: usize| {
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}}}\nspec: {{containers: [{{name: c, image: a}}]}}\n"
            )
        };
        let docs: Vec<String> = (0..n).map(pod).collect();
        let mut inv = Inventory::new();
        load_str(&mut inv, &docs.join("---\n"), "s.yaml").unwrap();
        assert_eq!(inv.pods.len(), n);
        for (i, p) in inv.pods.iter().enumerate() {
            assert_eq!(
                p.object.metadata.name.as_deref(),
                Some(format!("p{i}").as_str())
            );
            assert_eq!(p.origin.document, i + 1);
            assert_eq!(p.origin.line, Some(1 + i * 5));
        }
        let mut bad = docs.clone();
        bad[n - 10] = "kind: [\n".to_owned();
        bad[n / 2] =
            "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: 3}\n".to_owned();
        let err = load_str(&mut Inventory::new(), &bad.join("---\n"), "s.yaml").unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "s.yaml: document {}: Pod \"x\" does not match the Kubernetes schema",
                n / 2 + 1
            )),
            "{err}"
        );
        bad[n / 2] = pod(0);
        let err = load_str(&mut Inventory::new(), &bad.join("---\n"), "s.yaml").unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "s.yaml: document {} (line {}) is not valid YAML",
                n - 9,
                2 + (n - 10) * 5
            )),
            "{err}"
        );
    }

    #[test]
    fn split_keeps_line_numbers() {
        let docs = split_documents("a: 1\n---\nb: 2\n--- c: 3\n...\n");
        let got: Vec<_> = docs.iter().map(|(l, d)| (*l, d.trim())).collect();
        assert_eq!(got, vec![(1, "a: 1"), (3, "b: 2"), (4, "c: 3"), (6, "")]);
    }
}
