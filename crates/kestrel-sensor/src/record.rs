//! The kernel-to-userspace wire format (`bpf/sensor.h`), decoded with explicit little-endian
//! reads: no pointer casts, so a truncated or corrupt record (from a damaged recording) is an
//! error naming the field, never undefined behaviour.
//!
//! A [`Record`] is what the kernel said, in kernel terms (boot-time clock, kernel `dev_t`,
//! argument registers); [`crate::normalize`] turns it into a [`kestrel_event::Event`].

use std::fmt;

/// Version of the wire format; stored in recordings so that a replay of an incompatible
/// recording fails loudly.
pub const WIRE_VERSION: u32 = 1;

pub(crate) const HDR_LEN: usize = 24;
const PROC_LEN: usize = 136;
const SC_LEN: usize = 128;

/// Record kinds, as in `enum rec_kind` of `bpf/sensor.h`; also the index of the drop counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum Kind {
    Exec = 1,
    Fork = 2,
    Exit = 3,
    Open = 10,
    Rename = 11,
    Unlink = 12,
    Link = 13,
    Symlink = 14,
    Chmod = 15,
    Chown = 16,
    Mmap = 17,
    Mount = 18,
    Memfd = 19,
    Connect = 20,
    Accept = 21,
    Bind = 22,
    Listen = 23,
    Socket = 24,
    DnsSend = 25,
    DnsRecv = 26,
    SetId = 27,
    Capset = 28,
    Ptrace = 29,
    ProcessVmWritev = 30,
    InitModule = 31,
    FinitModule = 32,
    Bpf = 33,
    Unshare = 34,
    Setns = 35,
}

/// Number of drop counters (`K_MAX`).
pub const KIND_SLOTS: u32 = 64;

impl Kind {
    pub const ALL: [Kind; 29] = [
        Kind::Exec,
        Kind::Fork,
        Kind::Exit,
        Kind::Open,
        Kind::Rename,
        Kind::Unlink,
        Kind::Link,
        Kind::Symlink,
        Kind::Chmod,
        Kind::Chown,
        Kind::Mmap,
        Kind::Mount,
        Kind::Memfd,
        Kind::Connect,
        Kind::Accept,
        Kind::Bind,
        Kind::Listen,
        Kind::Socket,
        Kind::DnsSend,
        Kind::DnsRecv,
        Kind::SetId,
        Kind::Capset,
        Kind::Ptrace,
        Kind::ProcessVmWritev,
        Kind::InitModule,
        Kind::FinitModule,
        Kind::Bpf,
        Kind::Unshare,
        Kind::Setns,
    ];

    pub fn from_u32(v: u32) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u32 == v)
    }

    /// Stable lower-case name, used in drop reports and stats.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Exec => "exec",
            Kind::Fork => "fork",
            Kind::Exit => "exit",
            Kind::Open => "open",
            Kind::Rename => "rename",
            Kind::Unlink => "unlink",
            Kind::Link => "link",
            Kind::Symlink => "symlink",
            Kind::Chmod => "chmod",
            Kind::Chown => "chown",
            Kind::Mmap => "mmap",
            Kind::Mount => "mount",
            Kind::Memfd => "memfd_create",
            Kind::Connect => "connect",
            Kind::Accept => "accept",
            Kind::Bind => "bind",
            Kind::Listen => "listen",
            Kind::Socket => "socket",
            Kind::DnsSend => "dns_send",
            Kind::DnsRecv => "dns_recv",
            Kind::SetId => "setid",
            Kind::Capset => "capset",
            Kind::Ptrace => "ptrace",
            Kind::ProcessVmWritev => "process_vm_writev",
            Kind::InitModule => "init_module",
            Kind::FinitModule => "finit_module",
            Kind::Bpf => "bpf",
            Kind::Unshare => "unshare",
            Kind::Setns => "setns",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A record that does not follow the wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record of {len} bytes is shorter than its {what} ({need} bytes)")]
    Truncated {
        what: &'static str,
        need: usize,
        len: usize,
    },
    #[error("record header says {size} bytes but {len} bytes were delivered")]
    SizeMismatch { size: u32, len: usize },
    #[error("unknown record kind {0}")]
    UnknownKind(u32),
}

/// Bit flags of `proc_body.flags`.
pub mod exe_flags {
    pub const UPPER_LAYER: u32 = 1 << 0;
    pub const MEMFD: u32 = 1 << 1;
    pub const DELETED: u32 = 1 << 2;
    pub const KILLED: u32 = 1 << 3;
    pub const WOULD_KILL: u32 = 1 << 4;
    pub const HAS_TTY: u32 = 1 << 5;
    pub const HAS_LOGINUID: u32 = 1 << 6;
}

/// `struct rec_hdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub ts_boot_ns: u64,
    pub kind: Kind,
    pub tgid: u32,
    pub tid: u32,
}

/// `struct proc_body`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcBody<'a> {
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub loginuid: u32,
    pub tty_major: u32,
    pub tty_minor: u32,
    pub flags: u32,
    pub cap_eff: u64,
    pub cap_prm: u64,
    pub cap_inh: u64,
    /// pid, mnt, net, uts, ipc, user, cgroup.
    pub ns: [u32; 7],
    pub start_boottime: u64,
    /// Kernel-internal `dev_t` (`MAJOR << 20 | MINOR`).
    pub exe_dev: u64,
    pub exe_ino: u64,
    /// `comm` up to its first NUL, as the kernel wrote it (not necessarily UTF-8).
    pub comm: &'a [u8],
}

impl ProcBody<'_> {
    /// `comm` as text (invalid UTF-8 replaced).
    pub fn comm(&self) -> String {
        lossy(self.comm)
    }
}

/// `struct sock_tuple`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SockTuple {
    pub family: u16,
    pub sock_type: u16,
    pub protocol: u16,
    pub lport: u16,
    pub rport: u16,
    pub laddr: [u8; 16],
    pub raddr: [u8; 16],
}

/// The blobs trailing a syscall record, checked at decode time and borrowed from the record.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Blobs<'a> {
    /// `{ u16 len, bytes[len] }*`, every length already known to fit.
    raw: &'a [u8],
}

impl<'a> Blobs<'a> {
    /// Every blob, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut rest = self.raw;
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<2>()?;
            let (b, tail) = tail.split_at(u16::from_le_bytes(*len) as usize);
            rest = tail;
            Some(b)
        })
    }

    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.iter().nth(i)
    }

    pub fn first(&self) -> Option<&'a [u8]> {
        self.get(0)
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
}

impl fmt::Debug for Blobs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// `struct sc_body` and its trailing blobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyscallRecord<'a> {
    pub sub: u32,
    pub ret: i64,
    pub args: [u64; 6],
    pub sk: SockTuple,
    pub file_dev: u64,
    pub file_ino: u64,
    pub blobs: Blobs<'a>,
}

/// One decoded kernel record. Variable-length fields borrow from the buffer it was decoded
/// from: decoding allocates nothing, and the normalizer copies only what an event keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    Exec {
        proc: ProcBody<'a>,
        filename: &'a [u8],
        /// Path components, leaf first.
        exe_path: &'a [u8],
        argv: &'a [u8],
        env: &'a [u8],
        cwd: &'a [u8],
        cgroup: &'a [u8],
    },
    Fork {
        child: ProcBody<'a>,
        child_tgid: u32,
        cgroup: &'a [u8],
    },
    Exit {
        status: i32,
    },
    Syscall(SyscallRecord<'a>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub hdr: Header,
    pub body: Body<'a>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn need(&self, n: usize) -> Result<(), DecodeError> {
        if self.pos + n > self.buf.len() {
            return Err(DecodeError::Truncated {
                what: self.what,
                need: self.pos + n,
                len: self.buf.len(),
            });
        }
        Ok(())
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        self.need(n)?;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// The next `N` bytes, for a fixed-size body read field by field without further checks.
    fn fixed<const N: usize>(&mut self) -> Result<Fields<'a, N>, DecodeError> {
        let b = self.bytes(N)?;
        Ok(Fields {
            b: b.try_into().expect("bytes returns N bytes"),
            pos: 0,
        })
    }
    fn blob(&mut self) -> Result<&'a [u8], DecodeError> {
        self.what = "blob";
        let n = self.u16()? as usize;
        self.bytes(n)
    }
    /// Blobs until the end of the record.
    fn rest_blobs(&mut self) -> Result<Blobs<'a>, DecodeError> {
        let start = self.pos;
        while self.pos < self.buf.len() {
            self.blob()?;
        }
        Ok(Blobs {
            raw: &self.buf[start..],
        })
    }
}

/// Fields of a fixed-size body whose length was checked once: the offsets are constants after
/// inlining, so the reads compile to plain loads.
struct Fields<'a, const N: usize> {
    b: &'a [u8; N],
    pos: usize,
}

impl<'a, const N: usize> Fields<'a, N> {
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        s
    }
    fn array<const M: usize>(&mut self) -> [u8; M] {
        self.bytes(M).try_into().expect("M bytes")
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }
}

fn proc_body<'a>(r: &mut Reader<'a>) -> Result<ProcBody<'a>, DecodeError> {
    r.what = "process body";
    let mut f = r.fixed::<PROC_LEN>()?;
    let ppid = f.u32();
    let uid = f.u32();
    let gid = f.u32();
    let euid = f.u32();
    let egid = f.u32();
    let loginuid = f.u32();
    let tty_major = f.u32();
    let tty_minor = f.u32();
    let flags = f.u32();
    f.u32(); // alignment
    let cap_eff = f.u64();
    let cap_prm = f.u64();
    let cap_inh = f.u64();
    let mut ns = [0u32; 7];
    for n in &mut ns {
        *n = f.u32();
    }
    f.u32();
    let start_boottime = f.u64();
    let exe_dev = f.u64();
    let exe_ino = f.u64();
    let comm = f.bytes(16);
    let comm = comm.split(|b| *b == 0).next().unwrap_or_default();
    debug_assert_eq!(f.pos, PROC_LEN);
    Ok(ProcBody {
        ppid,
        uid,
        gid,
        euid,
        egid,
        loginuid,
        tty_major,
        tty_minor,
        flags,
        cap_eff,
        cap_prm,
        cap_inh,
        ns,
        start_boottime,
        exe_dev,
        exe_ino,
        comm,
    })
}

/// Decodes one record as delivered by the ring buffer (or stored in a recording).
pub fn decode(buf: &[u8]) -> Result<Record<'_>, DecodeError> {
    let mut r = Reader {
        buf,
        pos: 0,
        what: "header",
    };
    let mut f = r.fixed::<HDR_LEN>()?;
    let ts_boot_ns = f.u64();
    let kind_raw = f.u32();
    let tgid = f.u32();
    let tid = f.u32();
    let size = f.u32();
    // The ring buffer rounds records up to 8 bytes; the header has the real size.
    if size as usize > buf.len() || (size as usize) < HDR_LEN {
        return Err(DecodeError::SizeMismatch {
            size,
            len: buf.len(),
        });
    }
    r.buf = &buf[..size as usize];
    let kind = Kind::from_u32(kind_raw).ok_or(DecodeError::UnknownKind(kind_raw))?;
    let hdr = Header {
        ts_boot_ns,
        kind,
        tgid,
        tid,
    };
    let body = match kind {
        Kind::Exec => {
            let proc = proc_body(&mut r)?;
            Body::Exec {
                proc,
                filename: r.blob()?,
                exe_path: r.blob()?,
                argv: r.blob()?,
                env: r.blob()?,
                cwd: r.blob()?,
                cgroup: r.blob()?,
            }
        }
        Kind::Fork => {
            let child = proc_body(&mut r)?;
            r.what = "fork body";
            let child_tgid = r.u32()?;
            r.u32()?;
            Body::Fork {
                child,
                child_tgid,
                cgroup: r.blob()?,
            }
        }
        Kind::Exit => {
            r.what = "exit body";
            let status = r.u32()? as i32;
            r.u32()?;
            Body::Exit { status }
        }
        _ => {
            r.what = "syscall body";
            let mut f = r.fixed::<SC_LEN>()?;
            let sub = f.u32();
            f.u32();
            let ret = f.u64() as i64;
            let mut args = [0u64; 6];
            for a in &mut args {
                *a = f.u64();
            }
            let family = f.u16();
            let sock_type = f.u16();
            let protocol = f.u16();
            let lport = f.u16();
            let rport = f.u16();
            f.bytes(6);
            let laddr = f.array();
            let raddr = f.array();
            let file_dev = f.u64();
            let file_ino = f.u64();
            debug_assert_eq!(f.pos, SC_LEN);
            Body::Syscall(SyscallRecord {
                sub,
                ret,
                args,
                sk: SockTuple {
                    family,
                    sock_type,
                    protocol,
                    lport,
                    rport,
                    laddr,
                    raddr,
                },
                file_dev,
                file_ino,
                blobs: r.rest_blobs()?,
            })
        }
    };
    Ok(Record { hdr, body })
}

/// Converts a kernel-internal `dev_t` (`MAJOR << 20 | MINOR`) to the encoding `stat(2)` reports.
pub fn dev_to_user(kdev: u64) -> u64 {
    let major = kdev >> 20;
    let minor = kdev & 0xfffff;
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// The inverse of [`dev_to_user`]: what the kernel programs compare against.
pub fn dev_to_kernel(udev: u64) -> u64 {
    let major = (udev >> 8) & 0xfff;
    let minor = (udev & 0xff) | ((udev >> 12) & 0xfff00);
    (major << 20) | minor
}

/// Bytes the kernel copied as text: UTF-8 as is, anything else with U+FFFD replacements.
pub fn lossy(b: &[u8]) -> String {
    // `from_utf8` validates whole words at a time; the lossy decoder walks byte by byte and is
    // only needed for the rare invalid input.
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Joins path components that the kernel sent leaf first (`ls\0bin\0usr\0`) into `/usr/bin/ls`.
/// Empty components are skipped; no components at all is `/`.
pub fn join_components(leaf_first: &[u8]) -> String {
    let mut s = String::with_capacity(leaf_first.len() + 1);
    // NUL is ASCII, so the components of valid UTF-8 are valid UTF-8: one check for the path.
    match std::str::from_utf8(leaf_first) {
        Ok(text) => {
            let mut end = text.len();
            for nul in memchr::memrchr_iter(0, leaf_first).chain([usize::MAX]) {
                let start = nul.wrapping_add(1);
                if start < end {
                    s.push('/');
                    s.push_str(&text[start..end]);
                }
                end = nul;
            }
        }
        Err(_) => {
            for c in leaf_first.rsplit(|b| *b == 0).filter(|c| !c.is_empty()) {
                s.push('/');
                s.push_str(&String::from_utf8_lossy(c));
            }
        }
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// Splits a NUL-separated block (argv, environ) into strings.
pub fn split_nul(block: &[u8]) -> Vec<String> {
    let block = block.strip_suffix(&[0]).unwrap_or(block);
    if block.is_empty() {
        return Vec::new();
    }
    let mut v = Vec::with_capacity(memchr::memchr_iter(0, block).count() + 1);
    match std::str::from_utf8(block) {
        Ok(text) => v.extend(text.split('\0').map(str::to_owned)),
        Err(_) => v.extend(block.split(|b| *b == 0).map(lossy)),
    }
    v
}

/// The `NAME=value` entries of a NUL-separated environment block whose name is in `names`, as
/// [`split_nul`] followed by [`crate::proctable::select_env`] would return them, without
/// converting the entries that are not kept.
pub fn select_env_block(block: &[u8], names: &[String]) -> Vec<String> {
    let block = block.strip_suffix(&[0]).unwrap_or(block);
    if block.is_empty() || names.is_empty() {
        return Vec::new();
    }
    // An entry's name ends at its first '=': a name that is empty or holds '=', NUL or U+FFFD
    // (which only a lossy conversion produces) takes the entry-by-entry path.
    let plain = |n: &String| !n.is_empty() && !n.contains(['=', '\0', char::REPLACEMENT_CHARACTER]);
    if !names.iter().all(plain) {
        return select_env_slow(block, names);
    }
    // The environment is up to 4 KiB of which a few entries are kept: search for the names
    // (vectorised) instead of splitting every entry.
    let mut starts = Vec::new();
    for n in names {
        let n = n.as_bytes();
        for i in memchr::memmem::find_iter(block, n) {
            let at_entry_start = i == 0 || block[i - 1] == 0;
            let name_ends = matches!(block.get(i + n.len()), None | Some(b'=') | Some(0));
            if at_entry_start && name_ends {
                starts.push(i);
            }
        }
    }
    starts.sort_unstable();
    starts.dedup();
    starts
        .into_iter()
        .map(|i| {
            let len = memchr::memchr(0, &block[i..]).unwrap_or(block.len() - i);
            lossy(&block[i..i + len])
        })
        .collect()
}

fn select_env_slow(block: &[u8], names: &[String]) -> Vec<String> {
    block
        .split(|b| *b == 0)
        .filter(|kv| {
            let name = kv.split(|b| *b == b'=').next().unwrap_or_default();
            let name = String::from_utf8_lossy(name);
            names.iter().any(|n| *n == name)
        })
        .map(lossy)
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds records the way the kernel programs do, for decoder and pipeline tests.
    #[derive(Default)]
    pub struct Builder(pub Vec<u8>);

    impl Builder {
        pub fn header(kind: u32, ts: u64, tgid: u32, tid: u32) -> Builder {
            let mut b = Builder(Vec::new());
            b.u64(ts).u32(kind).u32(tgid).u32(tid).u32(0);
            b
        }
        pub fn u16(&mut self, v: u16) -> &mut Self {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        pub fn u32(&mut self, v: u32) -> &mut Self {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        pub fn u64(&mut self, v: u64) -> &mut Self {
            self.0.extend_from_slice(&v.to_le_bytes());
            self
        }
        pub fn raw(&mut self, v: &[u8]) -> &mut Self {
            self.0.extend_from_slice(v);
            self
        }
        pub fn blob(&mut self, v: &[u8]) -> &mut Self {
            self.u16(v.len() as u16).raw(v)
        }
        pub fn proc(&mut self, p: &ProcBody<'_>) -> &mut Self {
            self.u32(p.ppid)
                .u32(p.uid)
                .u32(p.gid)
                .u32(p.euid)
                .u32(p.egid)
                .u32(p.loginuid)
                .u32(p.tty_major)
                .u32(p.tty_minor)
                .u32(p.flags)
                .u32(0)
                .u64(p.cap_eff)
                .u64(p.cap_prm)
                .u64(p.cap_inh);
            for n in p.ns {
                self.u32(n);
            }
            self.u32(0)
                .u64(p.start_boottime)
                .u64(p.exe_dev)
                .u64(p.exe_ino);
            let mut comm = [0u8; 16];
            comm[..p.comm.len().min(15)].copy_from_slice(&p.comm[..p.comm.len().min(15)]);
            self.raw(&comm)
        }
        pub fn syscall(&mut self, sub: u32, ret: i64, args: [u64; 6], sk: SockTuple) -> &mut Self {
            self.u32(sub).u32(0).u64(ret as u64);
            for a in args {
                self.u64(a);
            }
            self.u16(sk.family)
                .u16(sk.sock_type)
                .u16(sk.protocol)
                .u16(sk.lport)
                .u16(sk.rport)
                .raw(&[0; 6])
                .raw(&sk.laddr)
                .raw(&sk.raddr)
                .u64(0)
                .u64(0)
        }
        /// Sets the size field and pads to 8 bytes as the ring buffer does.
        pub fn finish(mut self) -> Vec<u8> {
            let size = self.0.len() as u32;
            self.0[20..24].copy_from_slice(&size.to_le_bytes());
            while !self.0.len().is_multiple_of(8) {
                self.0.push(0xee);
            }
            self.0
        }
    }

    #[test]
    fn decodes_exec() {
        let p = ProcBody {
            ppid: 1,
            uid: 1000,
            euid: 0,
            flags: exe_flags::UPPER_LAYER,
            cap_eff: 0x1ff,
            ns: [1, 2, 3, 4, 5, 6, 7],
            exe_dev: (8 << 20) | 1,
            exe_ino: 42,
            comm: b"ls",
            ..Default::default()
        };
        let mut b = Builder::header(1, 99, 10, 10);
        b.proc(&p)
            .blob(b"/bin/ls")
            .blob(b"ls\0bin\0usr\0")
            .blob(b"ls\0-l\0")
            .blob(b"LD_PRELOAD=/x.so\0")
            .blob(b"tmp\0")
            .blob(b"");
        let raw = b.finish();
        let rec = decode(&raw).unwrap();
        assert_eq!(rec.hdr.kind, Kind::Exec);
        assert_eq!(rec.hdr.ts_boot_ns, 99);
        let Body::Exec {
            proc,
            exe_path,
            argv,
            env,
            ..
        } = rec.body
        else {
            panic!("not an exec")
        };
        assert_eq!(proc, p);
        assert_eq!(proc.comm(), "ls");
        assert_eq!(join_components(exe_path), "/usr/bin/ls");
        assert_eq!(split_nul(argv), ["ls", "-l"]);
        assert_eq!(split_nul(env), ["LD_PRELOAD=/x.so"]);
    }

    #[test]
    fn rejects_bad_records() {
        assert!(matches!(
            decode(&[0; 10]),
            Err(DecodeError::Truncated { what: "header", .. })
        ));
        let b = Builder::header(77, 0, 1, 1);
        assert_eq!(decode(&b.finish()), Err(DecodeError::UnknownKind(77)));
        let mut b = Builder::header(1, 0, 1, 1);
        b.raw(&[0; 20]);
        assert!(matches!(
            decode(&b.finish()),
            Err(DecodeError::Truncated {
                what: "process body",
                ..
            })
        ));
        let mut b = Builder::header(3, 0, 1, 1);
        b.u32(0).u32(0);
        let mut v = b.finish();
        v[20] = 200;
        assert!(matches!(
            decode(&v),
            Err(DecodeError::SizeMismatch { size: 200, .. })
        ));
    }

    #[test]
    fn dev_encoding_round_trips() {
        // 259:3 (nvme partition) and 0:45 (overlay), as stat(2) prints them.
        for (major, minor) in [(259u64, 3u64), (0, 45), (8, 300)] {
            let kdev = (major << 20) | minor;
            let udev = dev_to_user(kdev);
            assert_eq!(udev >> 8 & 0xfff, major);
            assert_eq!(dev_to_kernel(udev), kdev);
        }
    }

    #[test]
    fn path_components() {
        assert_eq!(join_components(b""), "/");
        assert_eq!(join_components(b"\0\0"), "/");
        assert_eq!(join_components(b"passwd\0etc\0"), "/etc/passwd");
        // Empty components (a kernel that stopped at the depth limit) are skipped.
        assert_eq!(join_components(b"a\0\0b"), "/b/a");
        // Invalid UTF-8 is replaced per component; the valid components are untouched.
        assert_eq!(
            join_components(b"f\xffo\0d\xc3\xa9j\xc3\0"),
            "/d\u{e9}j\u{fffd}/f\u{fffd}o"
        );
        assert_eq!(split_nul(b""), Vec::<String>::new());
        assert_eq!(split_nul(b"\0"), Vec::<String>::new());
        assert_eq!(split_nul(b"\0\0"), ["", ""]);
        assert_eq!(split_nul(b"a\0\0b\0"), ["a", "", "b"]);
        assert_eq!(split_nul(b"a\0\0b"), ["a", "", "b"]);
        assert_eq!(split_nul(b"x\xff\0\xc3\xa9"), ["x\u{fffd}", "\u{e9}"]);
        assert_eq!(lossy(b"caf\xc3\xa9"), "caf\u{e9}");
        assert_eq!(lossy(b"\xc3("), "\u{fffd}(");
    }

    #[test]
    fn env_block_selection_matches_split_then_select() {
        let fast = [
            "LD_PRELOAD".to_owned(),
            "EMPTY".to_owned(),
            "PRELOAD".to_owned(),
        ];
        let slow = [
            "LD_PRELOAD".to_owned(),
            "P\u{fffd}".to_owned(),
            "EMPTY".to_owned(),
        ];
        let odd = ["".to_owned(), "A=B".to_owned(), "N\0".to_owned()];
        for block in [
            &b""[..],
            b"\0",
            b"HOME=/root\0LD_PRELOAD=/x.so\0",
            b"LD_PRELOAD=/a\0LD_PRELOAD=/b\0LD_PRELOADX=1\0LD_PRELOAD",
            b"EMPTY\0EMPTY=\0=LD_PRELOAD\0",
            b"LD_PRELOAD=\xff\xfe\0P\xff=1\0P\xef\xbf\xbd=2\0",
            b"XLD_PRELOAD=1\0LD_PRELOAD\0PRELOAD=2\0EMPTY=LD_PRELOAD=3",
            b"\0\0=x\0A=B=c\0N\0",
        ] {
            for names in [&fast[..], &slow, &odd] {
                let expected = crate::proctable::select_env(&split_nul(block), names);
                assert_eq!(
                    select_env_block(block, names),
                    expected,
                    "{block:?} {names:?}"
                );
            }
            assert!(select_env_block(block, &[]).is_empty());
        }
    }

    #[test]
    fn syscall_blobs_are_checked_and_borrowed() {
        let args = [1, 2, 3, 4, 5, 6];
        let mut b = Builder::header(11, 1, 2, 3);
        b.syscall(2, 0, args, SockTuple::default())
            .blob(b"/old")
            .blob(b"")
            .blob(b"/new");
        let raw = b.finish();
        let rec = decode(&raw).unwrap();
        let Body::Syscall(sc) = rec.body else {
            panic!("not a syscall record")
        };
        assert_eq!(sc.args, args);
        assert_eq!(sc.blobs.len(), 3);
        assert_eq!(sc.blobs.first(), Some(&b"/old"[..]));
        assert_eq!(sc.blobs.get(1), Some(&b""[..]));
        assert_eq!(sc.blobs.get(2), Some(&b"/new"[..]));
        assert_eq!(sc.blobs.get(3), None);
        assert_eq!(
            format!("{:?}", sc.blobs),
            "[[47, 111, 108, 100], [], [47, 110, 101, 119]]"
        );

        // No blobs at all is fine; a blob whose length runs past the record is not.
        let mut b = Builder::header(11, 1, 2, 3);
        b.syscall(2, 0, args, SockTuple::default());
        let raw = b.finish();
        let Body::Syscall(sc) = decode(&raw).unwrap().body else {
            panic!("not a syscall record")
        };
        assert!(sc.blobs.is_empty());
        assert_eq!(sc.blobs.first(), None);
        let mut b = Builder::header(11, 1, 2, 3);
        b.syscall(2, 0, args, SockTuple::default())
            .blob(b"/ok")
            .u16(9)
            .raw(b"/tr");
        assert_eq!(
            decode(&b.finish()),
            Err(DecodeError::Truncated {
                what: "blob",
                need: 24 + SC_LEN + 5 + 2 + 9,
                len: 24 + SC_LEN + 5 + 5,
            })
        );
        // A lone length byte is a truncated blob header too.
        let mut b = Builder::header(11, 1, 2, 3);
        b.syscall(2, 0, args, SockTuple::default()).raw(&[1]);
        let mut raw = b.finish();
        let size = (24 + SC_LEN + 1) as u32;
        raw[20..24].copy_from_slice(&size.to_le_bytes());
        assert!(matches!(
            decode(&raw),
            Err(DecodeError::Truncated { what: "blob", .. })
        ));
    }
}
