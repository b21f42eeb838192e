// SPDX-License-Identifier: MPL-2.0

//! The records waiting for the broker, oldest first, bounded in bytes: when a new record
//! would not fit, the oldest are dropped (and counted). In memory, or in one file on disk
//! (`spool-dir`) so that a long outage does not hold them in RAM and a restarted pipeline sends
//! what the last one could not.
//!
//! The file holds records as `<topic kind byte><u32 little-endian length><payload>`. A record
//! taken or dropped gets its kind byte overwritten with a tombstone, so a new run skips it; the
//! file is rewritten without the dead records once they make up more than half of it.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Which topic a record goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    Frames,
    Summary,
}

impl Topic {
    fn byte(self) -> u8 {
        match self {
            Topic::Frames => b'f',
            Topic::Summary => b's',
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'f' => Some(Topic::Frames),
            b's' => Some(Topic::Summary),
            _ => None,
        }
    }
}

/// One record: its topic and its JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub topic: Topic,
    pub payload: Vec<u8>,
}

impl Record {
    fn stored_len(&self) -> u64 {
        5 + self.payload.len() as u64
    }
}

const HEADER: usize = 5;
const TOMBSTONE: u8 = b'x';

/// A bounded FIFO of records.
pub struct Spool {
    max_bytes: u64,
    /// In memory: the records. On disk: their (offset, length) in the file.
    memory: VecDeque<Record>,
    file: Option<SpoolFile>,
    bytes: u64,
    dropped: u64,
}

struct SpoolFile {
    path: PathBuf,
    file: File,
    index: VecDeque<(u64, u32, Topic)>,
    /// Bytes of the file before the first live record.
    head: u64,
    end: u64,
}

impl SpoolFile {
    fn mark_dead(&mut self, at: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(at))?;
        self.file.write_all(&[TOMBSTONE])
    }
}

impl Spool {
    /// A spool in memory.
    pub fn in_memory(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            memory: VecDeque::new(),
            file: None,
            bytes: 0,
            dropped: 0,
        }
    }

    /// A spool in `dir/<name>.spool`, taking up the records a previous run left there.
    pub fn on_disk(dir: &Path, name: &str, max_bytes: u64) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{name}.spool"));
        use std::os::unix::fs::OpenOptionsExt;
        // The records are patients' measurements: readable by this user only.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this function owns; released when the file closes.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is in use by another publisher (give each its own client-id)",
                    path.display()
                ),
            ));
        }
        let mut index = VecDeque::new();
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let mut at = 0usize;
        // A record cut short by a crash ends the usable part; what follows is overwritten.
        while at + HEADER <= data.len() {
            let topic = Topic::from_byte(data[at]);
            if topic.is_none() && data[at] != TOMBSTONE {
                break;
            }
            let len = u32::from_le_bytes([data[at + 1], data[at + 2], data[at + 3], data[at + 4]]);
            if at + HEADER + len as usize > data.len() {
                break;
            }
            if let Some(topic) = topic {
                index.push_back((at as u64, len, topic));
            }
            at += HEADER + len as usize;
        }
        file.set_len(at as u64)?;
        // Only the live records count; the dead ones before them go at the next compaction.
        let bytes = index
            .iter()
            .map(|&(_, len, _)| HEADER as u64 + len as u64)
            .sum();
        let head = index.front().map_or(at as u64, |&(offset, _, _)| offset);
        let mut spool = Self {
            max_bytes,
            memory: VecDeque::new(),
            file: Some(SpoolFile {
                path,
                file,
                index,
                head,
                end: at as u64,
            }),
            bytes,
            dropped: 0,
        };
        while spool.bytes > spool.max_bytes && spool.drop_oldest() {}
        Ok(spool)
    }

    pub fn len(&self) -> usize {
        match &self.file {
            Some(f) => f.index.len(),
            None => self.memory.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the records held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Records dropped to make room, since the spool was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn drop_oldest(&mut self) -> bool {
        let freed = match &mut self.file {
            Some(f) => f.index.pop_front().map(|(at, len, _)| {
                f.head = at + HEADER as u64 + len as u64;
                // Best effort: a failed mark only means a new run sends it again.
                let _ = f.mark_dead(at);
                HEADER as u64 + len as u64
            }),
            None => self.memory.pop_front().map(|r| r.stored_len()),
        };
        match freed {
            Some(n) => {
                self.bytes -= n;
                self.dropped += 1;
                true
            }
            None => false,
        }
    }

    /// Appends `record`, dropping the oldest records while it would not fit. A record larger
    /// than the whole spool is dropped itself.
    pub fn push(&mut self, record: Record) -> io::Result<()> {
        let size = record.stored_len();
        if size > self.max_bytes {
            self.dropped += 1;
            return Ok(());
        }
        while self.bytes + size > self.max_bytes && self.drop_oldest() {}
        match &mut self.file {
            Some(f) => {
                let len = record.payload.len() as u32;
                let mut header = [record.topic.byte(), 0, 0, 0, 0];
                header[1..].copy_from_slice(&len.to_le_bytes());
                let written = f
                    .file
                    .seek(SeekFrom::Start(f.end))
                    .and_then(|_| f.file.write_all(&header))
                    .and_then(|()| f.file.write_all(&record.payload));
                if let Err(e) = written {
                    // Nothing half-written may look like a record to the next run.
                    let _ = f.file.set_len(f.end);
                    return Err(e);
                }
                f.index.push_back((f.end, len, record.topic));
                f.end += size;
            }
            None => self.memory.push_back(record),
        }
        self.bytes += size;
        self.compact_if_worth_it()
    }

    /// Puts `records` (oldest first) back in front, as they were before being taken. They were
    /// in the spool a moment ago, so they fit unless new records arrived since; then the oldest
    /// are dropped as usual.
    pub fn push_front(&mut self, records: Vec<Record>) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut rest = Vec::new();
        while let Some(r) = self.pop()? {
            rest.push(r);
        }
        for r in records.into_iter().chain(rest) {
            self.push(r)?;
        }
        Ok(())
    }

    /// Takes the oldest record.
    pub fn pop(&mut self) -> io::Result<Option<Record>> {
        let record = match &mut self.file {
            Some(f) => {
                let Some(&(at, len, topic)) = f.index.front() else {
                    return Ok(None);
                };
                let mut payload = vec![0; len as usize];
                f.file.seek(SeekFrom::Start(at + HEADER as u64))?;
                f.file.read_exact(&mut payload)?;
                f.index.pop_front();
                // A failed mark only means a new run would send it again.
                let _ = f.mark_dead(at);
                f.head = at + HEADER as u64 + len as u64;
                Record { topic, payload }
            }
            None => match self.memory.pop_front() {
                Some(r) => r,
                None => return Ok(None),
            },
        };
        self.bytes -= record.stored_len();
        // The record is out either way; a failed compaction is tried again later.
        let _ = self.compact_if_worth_it();
        Ok(Some(record))
    }

    /// Rewrites the file without the records before `head` once they are most of it.
    fn compact_if_worth_it(&mut self) -> io::Result<()> {
        let Some(f) = &mut self.file else {
            return Ok(());
        };
        if f.index.is_empty() {
            f.file.set_len(0)?;
            f.head = 0;
            f.end = 0;
            return Ok(());
        }
        if f.head < 64 * 1024 || f.head < f.end / 2 {
            return Ok(());
        }
        let mut live = vec![0; (f.end - f.head) as usize];
        f.file.seek(SeekFrom::Start(f.head))?;
        f.file.read_exact(&mut live)?;
        let tmp = f.path.with_extension("spool.tmp");
        std::fs::write(&tmp, &live)?;
        std::fs::rename(&tmp, &f.path)?;
        f.file = OpenOptions::new().read(true).write(true).open(&f.path)?;
        let shift = f.head;
        for entry in f.index.iter_mut() {
            entry.0 -= shift;
        }
        f.end -= shift;
        f.head = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: usize) -> Record {
        Record {
            topic: if i % 10 == 9 {
                Topic::Summary
            } else {
                Topic::Frames
            },
            payload: format!("{{\"frame\":{i}}}").into_bytes(),
        }
    }

    fn drain(spool: &mut Spool) -> Vec<Record> {
        std::iter::from_fn(|| spool.pop().unwrap()).collect()
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gst-als-spool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn keeps_order_and_drops_the_oldest_when_full_in_memory_and_on_disk() {
        let d = dir("order");
        let size = record(0).stored_len();
        for mut spool in [
            Spool::in_memory(10 * size),
            Spool::on_disk(&d, "cam", 10 * size).unwrap(),
        ] {
            for i in 0..15 {
                spool.push(record(i)).unwrap();
            }
            assert!(spool.bytes() <= 10 * size && spool.len() >= 8);
            let dropped = spool.dropped();
            let kept = drain(&mut spool);
            assert_eq!(kept.len() as u64 + dropped, 15);
            assert_eq!(kept.last(), Some(&record(14)));
            let frame = |r: &Record| {
                String::from_utf8_lossy(&r.payload)
                    .trim_matches(|c: char| !c.is_ascii_digit())
                    .parse::<usize>()
                    .unwrap()
            };
            assert!(
                kept.windows(2).all(|w| frame(&w[0]) + 1 == frame(&w[1])),
                "in order"
            );
            assert!(spool.is_empty() && spool.bytes() == 0);
        }
    }

    #[test]
    fn records_put_back_go_first_and_a_new_run_takes_up_the_file() {
        let d = dir("resume");
        let mut spool = Spool::on_disk(&d, "cam", 1 << 20).unwrap();
        for i in 0..5 {
            spool.push(record(i)).unwrap();
        }
        let taken = vec![spool.pop().unwrap().unwrap(), spool.pop().unwrap().unwrap()];
        spool.push(record(5)).unwrap();
        spool.push_front(taken).unwrap();
        drop(spool);
        let mut again = Spool::on_disk(&d, "cam", 1 << 20).unwrap();
        assert_eq!(drain(&mut again), (0..6).map(record).collect::<Vec<_>>());
    }

    #[test]
    fn a_torn_tail_is_cut_and_compaction_keeps_the_records() {
        let d = dir("torn");
        let mut spool = Spool::on_disk(&d, "cam", 1 << 24).unwrap();
        for i in 0..20_000 {
            spool.push(record(i)).unwrap();
        }
        for i in 0..15_000 {
            assert_eq!(spool.pop().unwrap(), Some(record(i)));
        }
        assert!(std::fs::metadata(d.join("cam.spool")).unwrap().len() < 20_000 * 14);
        drop(spool);
        let mut file = OpenOptions::new()
            .append(true)
            .open(d.join("cam.spool"))
            .unwrap();
        file.write_all(&[b'f', 200, 0, 0, 0, b'{']).unwrap();
        let mut again = Spool::on_disk(&d, "cam", 1 << 24).unwrap();
        assert_eq!(
            again.bytes(),
            (15_000..20_000)
                .map(|i| record(i).stored_len())
                .sum::<u64>()
        );
        assert!(
            Spool::on_disk(&d, "cam", 1 << 24).is_err(),
            "one publisher per spool file"
        );
        let rest = drain(&mut again);
        assert_eq!(rest.len(), 5_000);
        assert_eq!(again.bytes(), 0);
        assert_eq!(rest[0], record(15_000));
        let mut small = Spool::in_memory(4);
        small.push(record(1)).unwrap();
        assert_eq!(
            (small.len(), small.dropped()),
            (0, 1),
            "larger than the spool"
        );
    }
}
