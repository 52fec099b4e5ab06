//! Recordings: the raw kernel records of a session, replayable through the same decode and
//! enrichment code (`kestrel watch --record FILE`, `kestrel replay FILE`).
//!
//! Format (all integers little-endian):
//!
//! ```text
//! magic     "KESTRELREC\n\0"          12 bytes
//! version   u32                       wire format version (record::WIRE_VERSION)
//! offset    i64                       ns to add to the kernel boot-time clock for Unix time
//! frames    { tag u8, len u32, payload[len] }*
//!   tag 1   one kernel record, exactly as the ring buffer delivered it
//!   tag 2   one process of the /proc bootstrap, as JSON (kestrel_event::ProcessInfo)
//!   tag 3   one sensor event (drops, health), as JSON (kestrel_event::Event)
//! ```
//!
//! Recording raw records rather than events keeps recordings small and lets a replay exercise
//! (and benchmark) the decoder and the enrichment exactly as they ran live.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use kestrel_event::{Event, ProcessInfo};

use crate::record::WIRE_VERSION;

const MAGIC: &[u8; 12] = b"KESTRELREC\n\0";
const TAG_RECORD: u8 = 1;
const TAG_PROCESS: u8 = 2;
const TAG_EVENT: u8 = 3;
/// Larger than any kernel record (16 KiB) or sane JSON frame; protects against garbage lengths.
const MAX_FRAME: u32 = 16 << 20;

/// A recording that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a Kestrel sensor recording (bad magic)")]
    BadMagic { path: PathBuf },
    #[error("{path} was recorded with wire format {found}, this build reads {expected}")]
    Version {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    #[error("{path}: frame at byte {offset}: {message}")]
    Frame {
        path: PathBuf,
        offset: u64,
        message: String,
    },
}

/// Writes a recording.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
}

impl Recorder {
    pub fn create(path: &Path, boot_to_unix_ns: i64) -> Result<Recorder, RecordingError> {
        let err = |source| RecordingError::Io {
            path: path.to_owned(),
            source,
        };
        let f = File::create(path).map_err(err)?;
        let mut out = BufWriter::with_capacity(1 << 16, f);
        out.write_all(MAGIC).map_err(err)?;
        out.write_all(&WIRE_VERSION.to_le_bytes()).map_err(err)?;
        out.write_all(&boot_to_unix_ns.to_le_bytes()).map_err(err)?;
        Ok(Recorder {
            path: path.to_owned(),
            out,
        })
    }

    fn frame(&mut self, tag: u8, payload: &[u8]) -> Result<(), RecordingError> {
        let r = (|| {
            self.out.write_all(&[tag])?;
            self.out.write_all(&(payload.len() as u32).to_le_bytes())?;
            self.out.write_all(payload)
        })();
        r.map_err(|source| RecordingError::Io {
            path: self.path.clone(),
            source,
        })
    }

    pub fn record(&mut self, raw: &[u8]) -> Result<(), RecordingError> {
        self.frame(TAG_RECORD, raw)
    }

    pub fn process(&mut self, p: &ProcessInfo) -> Result<(), RecordingError> {
        let mut p = p.clone();
        p.parent = None;
        let json = serde_json::to_vec(&p).expect("ProcessInfo serializes");
        self.frame(TAG_PROCESS, &json)
    }

    pub fn event(&mut self, e: &Event) -> Result<(), RecordingError> {
        let json = serde_json::to_vec(e).expect("Event serializes");
        self.frame(TAG_EVENT, &json)
    }

    pub fn flush(&mut self) -> Result<(), RecordingError> {
        self.out.flush().map_err(|source| RecordingError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

/// One frame of a recording.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Record(Vec<u8>),
    Process(ProcessInfo),
    Event(Event),
}

/// Reads a recording frame by frame.
#[derive(Debug)]
pub struct Replayer {
    path: PathBuf,
    input: BufReader<File>,
    offset: u64,
    pub boot_to_unix_ns: i64,
}

impl Replayer {
    pub fn open(path: &Path) -> Result<Replayer, RecordingError> {
        let err = |source| RecordingError::Io {
            path: path.to_owned(),
            source,
        };
        let f = File::open(path).map_err(err)?;
        let mut input = BufReader::with_capacity(1 << 16, f);
        let mut head = [0u8; 24];
        if let Err(e) = input.read_exact(&mut head) {
            return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
                RecordingError::BadMagic {
                    path: path.to_owned(),
                }
            } else {
                err(e)
            });
        }
        if &head[..12] != MAGIC {
            return Err(RecordingError::BadMagic {
                path: path.to_owned(),
            });
        }
        let version = u32::from_le_bytes(head[12..16].try_into().expect("4 bytes"));
        if version != WIRE_VERSION {
            return Err(RecordingError::Version {
                path: path.to_owned(),
                found: version,
                expected: WIRE_VERSION,
            });
        }
        let boot_to_unix_ns = i64::from_le_bytes(head[16..24].try_into().expect("8 bytes"));
        Ok(Replayer {
            path: path.to_owned(),
            input,
            offset: 24,
            boot_to_unix_ns,
        })
    }

    fn frame_err(&self, message: String) -> RecordingError {
        RecordingError::Frame {
            path: self.path.clone(),
            offset: self.offset,
            message,
        }
    }

    /// The next frame; `None` at a clean end of file.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, RecordingError> {
        let mut head = [0u8; 5];
        match self.input.read(&mut head[..1]) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) => return Err(self.frame_err(e.to_string())),
        }
        self.input
            .read_exact(&mut head[1..])
            .map_err(|e| self.frame_err(format!("truncated frame header: {e}")))?;
        let tag = head[0];
        let len = u32::from_le_bytes(head[1..5].try_into().expect("4 bytes"));
        if len > MAX_FRAME {
            return Err(self.frame_err(format!("frame length {len} is implausible")));
        }
        let mut payload = vec![0u8; len as usize];
        self.input
            .read_exact(&mut payload)
            .map_err(|e| self.frame_err(format!("truncated frame of {len} bytes: {e}")))?;
        let frame = match tag {
            TAG_RECORD => Frame::Record(payload),
            TAG_PROCESS => Frame::Process(
                serde_json::from_slice(&payload)
                    .map_err(|e| self.frame_err(format!("process frame: {e}")))?,
            ),
            TAG_EVENT => Frame::Event(
                serde_json::from_slice(&payload)
                    .map_err(|e| self.frame_err(format!("event frame: {e}")))?,
            ),
            other => return Err(self.frame_err(format!("unknown frame tag {other}"))),
        };
        self.offset += 5 + len as u64;
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.krec");
        let mut r = Recorder::create(&path, -5).unwrap();
        let p = ProcessInfo {
            pid: 7,
            name: "x".into(),
            ..Default::default()
        };
        r.process(&p).unwrap();
        r.record(&[1, 2, 3]).unwrap();
        r.flush().unwrap();
        drop(r);
        let mut rp = Replayer::open(&path).unwrap();
        assert_eq!(rp.boot_to_unix_ns, -5);
        assert_eq!(rp.next_frame().unwrap(), Some(Frame::Process(p)));
        assert_eq!(rp.next_frame().unwrap(), Some(Frame::Record(vec![1, 2, 3])));
        assert_eq!(rp.next_frame().unwrap(), None);

        // Truncation is an error naming the offset, not a silent end.
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.krec");
        std::fs::write(&cut, &bytes[..bytes.len() - 1]).unwrap();
        let mut rp = Replayer::open(&cut).unwrap();
        rp.next_frame().unwrap();
        let e = rp.next_frame().unwrap_err().to_string();
        assert!(e.contains("truncated frame of 3 bytes"), "{e}");

        let bad = dir.path().join("bad");
        std::fs::write(&bad, b"{\"not\": \"a recording\"}").unwrap();
        let e = Replayer::open(&bad).unwrap_err().to_string();
        assert!(e.contains("is not a Kestrel sensor recording"), "{e}");
    }
}
