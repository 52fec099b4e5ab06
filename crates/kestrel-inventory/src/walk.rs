//! Turns layers (tar streams) and directories into the merged [`Tree`].
//!
//! One layer is read at a time, front to back, without seeking: the content of an entry is
//! either skipped, buffered (a metadata file a cataloger wants, under a size limit) or examined as
//! it passes (binaries and Java archives, under a size limit, dropped right after).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use crate::catalog::{self, Interest};
use crate::tree::{self, Node, NodeKind, PathProblem, Tree};
use crate::{InventoryError, LayerInfo, Limits, Warning, WarningKind};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
const PSEUDO_MOUNTS: &[&str] = &["/proc", "/sys", "/dev", "/run"];

/// Accumulates layers into one tree.
#[derive(Debug)]
pub(crate) struct TreeBuilder {
    limits: Limits,
    tree: Tree,
    layers: Vec<LayerInfo>,
    warnings: Vec<Warning>,
    /// Reused across binaries so that examining thousands of executables does not allocate
    /// thousands of buffers.
    scratch: Vec<u8>,
}

/// Counts bytes read and fails once more than `limit` came through: the decompression-bomb guard.
struct Counted<R> {
    inner: R,
    count: u64,
    limit: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.limit {
            return Err(io::Error::other(LimitExceeded));
        }
        Ok(n)
    }
}

#[derive(Debug)]
struct LimitExceeded;

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("size limit exceeded")
    }
}

impl std::error::Error for LimitExceeded {}

fn is_limit(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<LimitExceeded>())
}

/// Compression of a layer blob, told by its first bytes (media types lie in docker archives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

pub(crate) fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// The layer being applied, for warnings.
struct LayerCtx<'a> {
    index: u32,
    label: &'a str,
}

impl TreeBuilder {
    pub fn new(limits: &Limits) -> Self {
        TreeBuilder {
            limits: limits.clone(),
            tree: Tree::default(),
            layers: Vec::new(),
            warnings: Vec::new(),
            scratch: Vec::new(),
        }
    }

    pub fn warn(&mut self, kind: WarningKind, path: impl Into<String>, message: impl Into<String>) {
        let w = Warning {
            kind,
            path: path.into(),
            layer: None,
            message: message.into(),
        };
        tracing::warn!("{w}");
        self.warnings.push(w);
    }

    fn warn_in(&mut self, layer: u32, kind: WarningKind, path: &str, message: String) {
        let w = Warning {
            kind,
            path: path.to_owned(),
            layer: Some(layer),
            message,
        };
        tracing::warn!("{w}");
        self.warnings.push(w);
    }

    /// Applies one layer blob (compressed or not) on top of the layers applied so far.
    /// `digest` names the layer in errors; `diff_id` comes from the image configuration.
    pub fn add_layer<R: Read>(
        &mut self,
        blob: R,
        digest: &str,
        diff_id: Option<String>,
    ) -> Result<(), InventoryError> {
        let index = u32::try_from(self.layers.len()).unwrap_or(u32::MAX);
        let mut counted_blob = Counted {
            inner: blob,
            count: 0,
            limit: u64::MAX,
        };
        let mut buffered = BufReader::with_capacity(256 * 1024, &mut counted_blob);
        let head = buffered.fill_buf().map_err(|e| InventoryError::Tar {
            layer: digest.to_owned(),
            source: e,
        })?;
        let decoder: Box<dyn Read + '_> = match sniff(head) {
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| {
                    InventoryError::Tar {
                        layer: digest.to_owned(),
                        source: e,
                    }
                })?,
            ),
            Compression::None => Box::new(buffered),
        };
        let limit = self.limits.max_layer_bytes;
        let mut counted = Counted {
            inner: decoder,
            count: 0,
            limit,
        };
        let entries = self.apply_tar(
            &mut counted,
            &LayerCtx {
                index,
                label: digest,
            },
        );
        let entries = match entries {
            Ok(n) => n,
            Err(InventoryError::Tar { source, .. }) if is_limit(&source) => {
                return Err(InventoryError::LayerTooLarge {
                    layer: digest.to_owned(),
                    limit,
                });
            }
            Err(e) => return Err(e),
        };
        // Drain whatever follows the tar end marker so that digest checks over the blob see it
        // all.
        match io::copy(&mut counted, &mut io::sink()) {
            Ok(_) => {}
            Err(e) if is_limit(&e) => {
                return Err(InventoryError::LayerTooLarge {
                    layer: digest.to_owned(),
                    limit,
                });
            }
            Err(e) => {
                return Err(InventoryError::Tar {
                    layer: digest.to_owned(),
                    source: e,
                });
            }
        }
        drop(counted);
        self.layers.push(LayerInfo {
            index,
            digest: digest.to_owned(),
            diff_id,
            size: counted_blob.count,
            entries,
        });
        Ok(())
    }

    fn apply_tar(
        &mut self,
        reader: &mut dyn Read,
        layer: &LayerCtx<'_>,
    ) -> Result<u64, InventoryError> {
        let tar_err = |e: io::Error| InventoryError::Tar {
            layer: layer.label.to_owned(),
            source: e,
        };
        let mut archive = tar::Archive::new(reader);
        let mut count = 0u64;
        for entry in archive.entries().map_err(tar_err)? {
            let mut entry = entry.map_err(tar_err)?;
            count += 1;
            if count > self.limits.max_entries {
                return Err(InventoryError::TooManyEntries {
                    layer: layer.label.to_owned(),
                    limit: self.limits.max_entries,
                });
            }
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let path = match tree::normalize_entry(&raw) {
                Ok(p) => p,
                Err(problem) => {
                    let why = match problem {
                        PathProblem::Absolute => "absolute path in a layer",
                        PathProblem::Escapes => "path climbs out of the root with ..",
                    };
                    self.warn_in(
                        layer.index,
                        WarningKind::UnsafePath,
                        &raw,
                        format!("skipped: {why}"),
                    );
                    continue;
                }
            };
            let name = tree::file_name(&path);
            if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
                let dir = tree::parent(&path).to_owned();
                if name == OPAQUE_MARKER {
                    self.tree.opaque(&dir, layer.index);
                } else if hidden.is_empty()
                    || hidden == "."
                    || hidden == ".."
                    || hidden.contains('/')
                {
                    self.warn_in(
                        layer.index,
                        WarningKind::UnsafePath,
                        &raw,
                        "skipped: malformed whiteout name".to_owned(),
                    );
                } else {
                    self.tree.whiteout(&tree::join(&dir, hidden), layer.index);
                }
                continue;
            }
            let header = entry.header();
            let size = header.size().unwrap_or(0);
            let mode = header.mode().unwrap_or(0);
            let kind = match header.entry_type() {
                tar::EntryType::Regular
                | tar::EntryType::Continuous
                | tar::EntryType::GNUSparse => NodeKind::File,
                tar::EntryType::Directory => NodeKind::Dir,
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    NodeKind::Symlink(target)
                }
                tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    self.hardlink(&path, &target, layer);
                    continue;
                }
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                    NodeKind::Other
                }
                // Global PAX headers and vendor extensions describe no file.
                _ => continue,
            };
            let mut node = Node {
                kind,
                layer: layer.index,
                content: None,
                found: None,
            };
            if node.kind == NodeKind::File {
                self.examine(&path, size, mode, &mut entry, &mut node, layer.index)
                    .map_err(tar_err)?;
            }
            self.put(path, node, layer.index);
        }
        Ok(count)
    }

    fn hardlink(&mut self, path: &str, target: &str, layer: &LayerCtx<'_>) {
        let resolved = match tree::normalize_entry(target) {
            Ok(t) => t,
            Err(_) => {
                self.warn_in(
                    layer.index,
                    WarningKind::UnsafePath,
                    path,
                    format!("skipped: hard link to {target:?} points outside the root"),
                );
                return;
            }
        };
        match self.tree.get(&resolved) {
            Some(n) if resolved != path && n.kind == NodeKind::File => {
                let mut node = n.clone();
                node.layer = layer.index;
                if node.content.is_none() && catalog::interest(path, 0) == Interest::Metadata {
                    // The stream is past the target's data: it can only be shared if it was kept
                    // for the target's own name.
                    self.warn_in(
                        layer.index,
                        WarningKind::Skipped,
                        path,
                        format!("not read: hard link to {target:?}, whose content was not kept"),
                    );
                }
                self.put(path.to_owned(), node, layer.index);
            }
            _ => self.warn_in(
                layer.index,
                WarningKind::Skipped,
                path,
                format!("skipped: hard link to {target:?}, which is not an earlier regular file"),
            ),
        }
    }

    fn put(&mut self, path: String, node: Node, layer: u32) {
        if node.kind != NodeKind::Dir
            && self
                .tree
                .get(&path)
                .is_some_and(|old| old.kind == NodeKind::Dir && old.layer < layer)
        {
            // A file replacing a directory hides everything the lower layers put below it.
            self.tree.opaque(&path, layer);
        }
        if let Some(content) = &node.content
            && catalog::keeps_history(&path)
        {
            self.tree
                .history
                .entry(path.clone())
                .or_default()
                .push((layer, content.clone()));
        }
        self.tree.insert(path, node);
    }

    /// Reads what the catalogers need from a regular file's content.
    fn examine(
        &mut self,
        path: &str,
        size: u64,
        mode: u32,
        content: &mut dyn Read,
        node: &mut Node,
        layer: u32,
    ) -> io::Result<()> {
        match catalog::interest(path, mode) {
            Interest::None => Ok(()),
            Interest::Metadata => {
                if size > self.limits.max_metadata_bytes {
                    self.warn_in(
                        layer,
                        WarningKind::TooLarge,
                        path,
                        format!(
                            "not read: {size} bytes exceeds the {} byte metadata limit",
                            self.limits.max_metadata_bytes
                        ),
                    );
                    return Ok(());
                }
                let mut buf = Vec::with_capacity(size as usize);
                content
                    .take(self.limits.max_metadata_bytes + 1)
                    .read_to_end(&mut buf)?;
                if buf.len() as u64 > self.limits.max_metadata_bytes {
                    self.warn_in(
                        layer,
                        WarningKind::TooLarge,
                        path,
                        "not read: grew beyond the metadata limit while reading".to_owned(),
                    );
                    return Ok(());
                }
                node.content = Some(Arc::from(buf));
                Ok(())
            }
            interest @ (Interest::Binary | Interest::JavaArchive) => {
                if size < 64 {
                    return Ok(());
                }
                if size > self.limits.max_binary_bytes {
                    if interest == Interest::JavaArchive {
                        self.warn_in(
                            layer,
                            WarningKind::TooLarge,
                            path,
                            format!(
                                "not examined: {size} bytes exceeds the {} byte archive limit",
                                self.limits.max_binary_bytes
                            ),
                        );
                    }
                    return Ok(());
                }
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                let mut head = [0u8; 4];
                let got = read_full(content, &mut head)?;
                let wanted = match interest {
                    Interest::Binary => head[..got] == *b"\x7fELF",
                    _ => head[..got] == *b"PK\x03\x04",
                };
                if wanted {
                    scratch.extend_from_slice(&head[..got]);
                    content
                        .take(self.limits.max_binary_bytes)
                        .read_to_end(&mut scratch)?;
                    let mut warnings = Vec::new();
                    let found = match interest {
                        Interest::Binary => catalog::binary::examine(path, &scratch, &mut warnings),
                        _ => catalog::java::examine(
                            path,
                            &scratch,
                            self.limits.max_archive_depth,
                            self.limits.max_binary_bytes,
                            &mut warnings,
                        ),
                    };
                    for (kind, p, m) in warnings {
                        self.warn_in(layer, kind, &p, m);
                    }
                    if !found.is_empty() {
                        node.found = Some(Arc::new(found));
                    }
                }
                // Large binaries would otherwise pin their peak size for the rest of the run.
                if scratch.capacity() > 16 << 20 {
                    scratch = Vec::new();
                }
                self.scratch = scratch;
                Ok(())
            }
        }
    }

    /// Walks a root filesystem directory as a single layer. Symlinks are recorded, never
    /// followed; only regular files are opened, with `O_NOFOLLOW`; directories under `skip`
    /// (absolute paths inside the root) are not entered.
    pub fn add_dir(&mut self, root: &Path, skip: &[&str]) -> Result<(), InventoryError> {
        let meta = std::fs::metadata(root).map_err(|e| InventoryError::io(root, e))?;
        if !meta.is_dir() {
            return Err(InventoryError::NotADirectory {
                path: root.to_owned(),
            });
        }
        let index = u32::try_from(self.layers.len()).unwrap_or(u32::MAX);
        let root_dev = meta.dev();
        let mut visited = std::collections::HashSet::new();
        visited.insert((meta.dev(), meta.ino()));
        let mut stack = vec!["/".to_owned()];
        let mut count = 0u64;
        self.put(
            "/".to_owned(),
            Node {
                kind: NodeKind::Dir,
                layer: index,
                content: None,
                found: None,
            },
            index,
        );
        while let Some(dir) = stack.pop() {
            let host_dir = root.join(dir.trim_start_matches('/'));
            let rd = match std::fs::read_dir(&host_dir) {
                Ok(rd) => rd,
                Err(e) => {
                    self.warn_in(
                        index,
                        WarningKind::Skipped,
                        &dir,
                        format!("cannot list: {e}"),
                    );
                    continue;
                }
            };
            let mut names: Vec<_> = rd.filter_map(Result::ok).map(|e| e.file_name()).collect();
            names.sort();
            for name in names {
                count += 1;
                if count > self.limits.max_entries {
                    return Err(InventoryError::TooManyEntries {
                        layer: root.display().to_string(),
                        limit: self.limits.max_entries,
                    });
                }
                let name_str = name.to_string_lossy();
                let path = tree::join(&dir, &name_str);
                let host = host_dir.join(&name);
                let Ok(meta) = std::fs::symlink_metadata(&host) else {
                    continue;
                };
                let ft = meta.file_type();
                let mut node = Node {
                    kind: NodeKind::Other,
                    layer: index,
                    content: None,
                    found: None,
                };
                if ft.is_dir() {
                    node.kind = NodeKind::Dir;
                    // A pseudo-filesystem mounted into the root (a live system's /proc) holds
                    // no installed software and can be endless.
                    let pseudo = PSEUDO_MOUNTS.contains(&path.as_str()) && meta.dev() != root_dev;
                    if pseudo || skip.contains(&path.as_str()) {
                        self.put(path, node, index);
                        continue;
                    }
                    if visited.insert((meta.dev(), meta.ino())) {
                        stack.push(path.clone());
                    } else {
                        self.warn_in(
                            index,
                            WarningKind::Skipped,
                            &path,
                            "skipped: directory already visited (a bind mount loop)".to_owned(),
                        );
                    }
                } else if ft.is_symlink() {
                    let target = std::fs::read_link(&host)
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    node.kind = NodeKind::Symlink(target);
                } else if ft.is_file() {
                    node.kind = NodeKind::File;
                    if catalog::interest(&path, meta.mode()) != Interest::None {
                        match open_nofollow(&host) {
                            Ok(mut f) => {
                                if let Err(e) = self.examine(
                                    &path,
                                    meta.len(),
                                    meta.mode(),
                                    &mut f,
                                    &mut node,
                                    index,
                                ) {
                                    self.warn_in(
                                        index,
                                        WarningKind::Skipped,
                                        &path,
                                        format!("cannot read: {e}"),
                                    );
                                }
                            }
                            Err(e) => self.warn_in(
                                index,
                                WarningKind::Skipped,
                                &path,
                                format!("cannot open: {e}"),
                            ),
                        }
                    }
                }
                self.put(path, node, index);
            }
        }
        self.layers.push(LayerInfo {
            index,
            digest: String::new(),
            diff_id: None,
            size: 0,
            entries: count,
        });
        Ok(())
    }

    pub fn finish(self) -> (Tree, Vec<LayerInfo>, Vec<Warning>) {
        tracing::debug!(
            paths = self.tree.len(),
            layers = self.layers.len(),
            "tree complete"
        );
        (self.tree, self.layers, self.warnings)
    }
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn open_nofollow(path: &Path) -> io::Result<File> {
    // O_NONBLOCK: should the file have been swapped for a FIFO since it was listed, opening it
    // must not hang.
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Walks `dir:` targets.
pub(crate) fn walk_dir(path: &Path, builder: &mut TreeBuilder) -> Result<(), InventoryError> {
    builder.add_dir(path, &[])
}
