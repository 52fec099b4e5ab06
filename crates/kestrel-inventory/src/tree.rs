//! The merged view of a target's filesystem: every path that survives the layer stack, the layer
//! that last wrote it, and the content of the few files catalogers asked for.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use kestrel_package::Package;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NodeKind {
    File,
    Dir,
    /// The link target exactly as stored (absolute or relative).
    Symlink(String),
    /// Devices, FIFOs, sockets: recorded, never read.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: NodeKind,
    pub layer: u32,
    /// Buffered content, for files a cataloger wants.
    pub content: Option<Arc<[u8]>>,
    /// Packages found while the file streamed past (binaries, Java archives).
    pub found: Option<Arc<Vec<Package>>>,
}

/// Per-layer versions of a package database, so that a package is attributed to the layer that
/// introduced it rather than to the last layer that rewrote the database.
pub(crate) type History = BTreeMap<String, Vec<(u32, Arc<[u8]>)>>;

#[derive(Debug, Default)]
pub(crate) struct Tree {
    nodes: BTreeMap<String, Node>,
    pub history: History,
}

/// Why a path from a layer or directory was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PathProblem {
    Absolute,
    Escapes,
}

/// Normalizes a path as stored in a tar entry (`./usr/bin/`, `usr//lib`) to `/usr/bin`; refuses
/// paths that are absolute or climb out of the root.
pub(crate) fn normalize_entry(raw: &str) -> Result<String, PathProblem> {
    if raw.starts_with('/') {
        return Err(PathProblem::Absolute);
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(PathProblem::Escapes);
                }
            }
            c => parts.push(c),
        }
    }
    Ok(join_root(&parts))
}

fn join_root(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>().max(1));
    for p in parts {
        s.push('/');
        s.push_str(p);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// Normalizes a path a caller asks about: `..` is clamped at the root, as the kernel does inside
/// a container.
pub(crate) fn normalize_lookup(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    Some(join_root(&parts))
}

/// Joins a relative path to a directory lexically, clamping at the root.
pub(crate) fn join(dir: &str, rel: &str) -> String {
    if rel.starts_with('/') {
        return normalize_lookup(rel).unwrap_or_else(|| "/".to_owned());
    }
    normalize_lookup(&format!("{dir}/{rel}")).unwrap_or_else(|| "/".to_owned())
}

pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Tree {
    pub fn insert(&mut self, path: String, node: Node) {
        self.nodes.insert(path, node);
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Applies a whiteout in `layer`: removes `path` and everything below it that lower layers
    /// wrote.
    pub fn whiteout(&mut self, path: &str, layer: u32) {
        if self.nodes.get(path).is_some_and(|n| n.layer < layer) {
            self.nodes.remove(path);
        }
        self.remove_below(path, layer);
    }

    /// Applies an opaque-directory marker: everything lower layers wrote below `dir` goes.
    pub fn opaque(&mut self, dir: &str, layer: u32) {
        self.remove_below(dir, layer);
    }

    fn remove_below(&mut self, dir: &str, layer: u32) {
        let prefix = if dir == "/" {
            "/".to_owned()
        } else {
            format!("{dir}/")
        };
        let doomed: Vec<String> = self
            .nodes
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, n)| n.layer < layer)
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Every node below `dir` (not `dir` itself), in path order.
    pub fn below<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a str, &'a Node)> + 'a {
        let prefix = if dir == "/" {
            "/".to_owned()
        } else {
            format!("{dir}/")
        };
        self.nodes
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(k, n)| (k.as_str(), n))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(k, n)| (k.as_str(), n))
    }

    /// Resolves symlinks in `path` inside the tree (never on the host): absolute targets and
    /// `..` are clamped at the target's root. `None` for a dangling link or a loop.
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut hops = 0;
        let mut pending: Vec<String> = normalize_lookup(path)?
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_owned)
            .collect();
        let mut current: Vec<String> = Vec::new();
        while let Some(c) = pending.pop() {
            if c == ".." {
                current.pop();
                continue;
            }
            if c == "." || c.is_empty() {
                continue;
            }
            current.push(c);
            let here = join_root(&current.iter().map(String::as_str).collect::<Vec<_>>());
            if let Some(Node {
                kind: NodeKind::Symlink(target),
                ..
            }) = self.nodes.get(&here)
            {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                current.pop();
                if target.starts_with('/') {
                    current.clear();
                }
                for part in target.split('/').rev() {
                    pending.push(part.to_owned());
                }
            }
        }
        Some(join_root(
            &current.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
    }

    /// The buffered content of the file at `path`, following symlinks inside the tree.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        let resolved = self.resolve(path)?;
        self.nodes.get(&resolved)?.content.as_deref()
    }

    pub fn is_dir(&self, path: &str) -> bool {
        self.nodes
            .get(path)
            .is_some_and(|n| n.kind == NodeKind::Dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(layer: u32) -> Node {
        Node {
            kind: NodeKind::File,
            layer,
            content: Some(Arc::from(&b"x"[..])),
            found: None,
        }
    }

    #[test]
    fn entry_paths() {
        assert_eq!(normalize_entry("./usr/bin/").unwrap(), "/usr/bin");
        assert_eq!(normalize_entry("usr//lib/../bin").unwrap(), "/usr/bin");
        assert_eq!(normalize_entry("../etc/passwd"), Err(PathProblem::Escapes));
        assert_eq!(normalize_entry("a/../../x"), Err(PathProblem::Escapes));
        assert_eq!(normalize_entry("/etc/passwd"), Err(PathProblem::Absolute));
        assert_eq!(normalize_entry("./").unwrap(), "/");
    }

    #[test]
    fn whiteouts_only_hit_lower_layers() {
        let mut t = Tree::default();
        t.insert("/a".into(), file(0));
        t.insert("/a/b".into(), file(0));
        t.insert("/a/c".into(), file(1));
        t.insert("/ab".into(), file(0));
        t.opaque("/a", 1);
        assert!(t.get("/a/b").is_none());
        assert!(t.get("/a/c").is_some());
        assert!(
            t.get("/ab").is_some(),
            "a sibling sharing a prefix survives"
        );
        t.whiteout("/a", 2);
        assert!(t.get("/a").is_none() && t.get("/a/c").is_none());
        assert!(t.get("/ab").is_some());
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let mut t = Tree::default();
        let link = |target: &str| Node {
            kind: NodeKind::Symlink(target.into()),
            layer: 0,
            content: None,
            found: None,
        };
        t.insert("/usr/lib/os-release".into(), file(0));
        t.insert("/etc/os-release".into(), link("../usr/lib/os-release"));
        t.insert("/etc/escape".into(), link("../../../../usr/lib/os-release"));
        t.insert("/etc/abs".into(), link("/usr/lib/os-release"));
        t.insert("/loop1".into(), link("/loop2"));
        t.insert("/loop2".into(), link("/loop1"));
        assert_eq!(t.resolve("/etc/os-release").unwrap(), "/usr/lib/os-release");
        assert_eq!(t.resolve("/etc/escape").unwrap(), "/usr/lib/os-release");
        assert_eq!(t.resolve("/etc/abs").unwrap(), "/usr/lib/os-release");
        assert!(t.read("/etc/os-release").is_some());
        assert_eq!(t.resolve("/loop1"), None);
    }
}
