// SPDX-License-Identifier: MPL-2.0

//! The records waiting for the broker, oldest first, bounded in bytes: when a new record
//! would not fit, the oldest are dropped (and counted). In memory, or on disk (`spool-dir`)
//! so that a long outage does not hold them in RAM and a restarted pipeline sends what the
//! last one could not.
//!
//! A record stays in the spool until the broker has it: the publisher reads records after a
//! cursor ([`Spool::peek_after`]) and removes them when acknowledged ([`Spool::remove`]), so
//! nothing is rewritten after a lost connection or at a stop, and a crash loses only the
//! records not yet handed to the spool.
//!
//! On disk the spool is an SQLite database (`<name>.spool`) in WAL mode with
//! `synchronous=NORMAL`: each append is one transaction, atomic and durable as soon as it
//! returns against a crash or a kill of the process; against a crash of the machine (power
//! loss), only once SQLite has checkpointed it, unless `fsync` is asked for
//! (`synchronous=FULL`: every append reaches the disk before it returns). The database and
//! its journal are created mode 0600 in a directory that must be the user's own; one
//! publisher at a time holds `<name>.spool.lock`. A file that is not a readable spool is moved
//! aside (`<name>.spool.unreadable-<time>`), never truncated. When the disk refuses a write
//! (full, I/O error) records are kept in memory, within the same bound, and written to disk
//! again once it takes them.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

use super::dirs;

/// One record: the topic it was made for (a later run sends it there, whatever its own
/// stream is called) and its JSON text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// What the bound counts per record beyond its topic and payload.
const OVERHEAD: u64 = 16;

impl Record {
    fn stored_len(&self) -> u64 {
        stored_len(self.topic.len() as u64 + self.payload.len() as u64)
    }
}

fn stored_len(payload: u64) -> u64 {
    OVERHEAD + payload
}

/// What became of a record given to [`Spool::push_all`].
#[derive(Debug, Default)]
pub struct Pushed {
    /// Records that could not be written to disk and are kept in memory.
    pub in_memory: u64,
    /// The disk's complaint, when it refused.
    pub disk_error: Option<io::Error>,
}

/// A bounded FIFO of records, each with a sequence number that orders them.
pub struct Spool {
    max_bytes: u64,
    db: Option<Db>,
    /// In memory: every record. On disk: those the disk refused, all newer than the disk's.
    memory: VecDeque<(u64, Record)>,
    next_seq: u64,
    len: u64,
    bytes: u64,
    dropped: u64,
    /// When the disk last refused; a write is tried again a second later.
    disk_failed_at: Option<Instant>,
    /// Why a file was moved aside (or taken up) at opening.
    recovered: Option<String>,
    /// Delivered records the disk would not delete yet: never sent again, removed later.
    pending_removal: Vec<u64>,
}

struct Db {
    conn: Connection,
    /// Held (flock) while this spool is open: one publisher per spool.
    _lock: File,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS records (\
     seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL)";
/// Marks the database as a gst-als spool ("GALS").
const APPLICATION_ID: i64 = 0x4741_4c53;

fn sql(e: rusqlite::Error) -> io::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            let kind = match code.code {
                rusqlite::ErrorCode::DiskFull => io::ErrorKind::StorageFull,
                rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::PermissionDenied => {
                    io::ErrorKind::PermissionDenied
                }
                _ => io::ErrorKind::Other,
            };
            io::Error::new(
                kind,
                format!("SQLite: {}", message.unwrap_or_else(|| code.to_string())),
            )
        }
        other => io::Error::other(format!("SQLite: {other}")),
    }
}

/// The spool file of `name` in `dir`.
pub fn spool_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.spool"))
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Creates `path` mode 0600 if it is missing, so that SQLite (which gives its journal files
/// the database's mode) never makes a file others can read; checks it otherwise.
fn private_file_at(path: &Path) -> io::Result<()> {
    if !dirs::private_file(path)? {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            // Made by another process just now: checked like any existing one.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                dirs::private_file(path)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The spool's lock file, locked `how` (`LOCK_EX` to publish, `LOCK_SH` to look). An
/// exclusive lock is tried for up to `patience`, so that a run listing the spools (which
/// holds a shared lock for a moment) does not fail a publisher starting at that instant.
fn lock(dir: &Path, name: &str, how: i32, patience: Duration) -> io::Result<File> {
    let path = sibling(&spool_path(dir, name), ".lock");
    private_file_at(&path)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)?;
    let deadline = Instant::now() + patience;
    // SAFETY: flock on a descriptor this function owns; released when the file closes.
    while unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) } != 0 {
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is in use by another publisher (give each its own client-id)",
                    spool_path(dir, name).display()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(file)
}

/// Why a spool file could not be opened: unreadable as a spool (moved aside), or something
/// that may pass (busy, no space, too many open files), which is only reported.
enum OpenError {
    Unreadable(String),
    Other(rusqlite::Error),
}

impl From<rusqlite::Error> for OpenError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(code, _)
                if matches!(
                    code.code,
                    rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
                ) =>
            {
                OpenError::Unreadable(e.to_string())
            }
            _ => OpenError::Other(e),
        }
    }
}

fn open_db(path: &Path, fsync: bool) -> Result<Connection, OpenError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Before the first table, so that freed pages can be given back to the file system.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::Other(rusqlite::Error::InvalidParameterName(
            format!("journal mode {mode}"),
        )));
    }
    conn.pragma_update(None, "synchronous", if fsync { "FULL" } else { "NORMAL" })?;
    // The write-ahead log is cut back to this size after each checkpoint.
    conn.pragma_update(None, "journal_size_limit", 4 << 20)?;
    let id: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
    if tables > 0 && id != APPLICATION_ID {
        return Err(OpenError::Unreadable("not a gst-als spool".into()));
    }
    let check: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(OpenError::Unreadable(format!("damaged: {check}")));
    }
    conn.execute_batch(SCHEMA)?;
    conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    Ok(conn)
}

/// Moves the spool file (and its journal) aside under a name that says why.
fn move_aside(path: &Path, why: &str) -> io::Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Never over an earlier one: a name no file has.
    let aside = (0..)
        .map(|n| sibling(path, &format!(".{why}-{stamp}-{}-{n}", std::process::id())))
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .unwrap_or_else(|| sibling(path, &format!(".{why}")));
    std::fs::rename(path, &aside)?;
    for journal in ["-wal", "-shm"] {
        let from = sibling(path, journal);
        if from.exists() {
            let _ = std::fs::rename(&from, sibling(&aside, journal));
        }
    }
    Ok(aside)
}

impl Spool {
    /// A spool in memory.
    pub fn in_memory(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            db: None,
            memory: VecDeque::new(),
            next_seq: 1,
            len: 0,
            bytes: 0,
            dropped: 0,
            disk_failed_at: None,
            recovered: None,
            pending_removal: Vec::new(),
        }
    }

    /// The spool `dir/<name>.spool`, taking up the records a previous run left there. `dir`
    /// is made private (0700) when missing and refused when it is a link, another user's or
    /// writable by others. `fsync`: every append reaches the disk before it returns. A spool
    /// file of gst-als before SQLite (a file of its own format) is taken up too: its records
    /// go to `legacy_topics` (frames, summary), since that format did not keep them.
    pub fn on_disk(
        dir: &Path,
        name: &str,
        max_bytes: u64,
        fsync: bool,
        legacy_topics: (&str, &str),
    ) -> io::Result<Self> {
        dirs::private_dir(dir)?;
        let lock = lock(dir, name, libc::LOCK_EX, Duration::from_secs(5))?;
        let path = spool_path(dir, name);
        for journal in ["-wal", "-shm"] {
            // SQLite would follow a link planted here.
            dirs::private_file(&sibling(&path, journal))?;
        }
        private_file_at(&path)?;
        let mut recovered = None;
        let mut legacy = None;
        if let Some(records) = legacy::read(&path)? {
            // Kept until its records are in the new file.
            let old = move_aside(&path, "before-sqlite")?;
            recovered = Some(format!(
                "took up {} records from the spool {} of an earlier gst-als",
                records.len(),
                old.display()
            ));
            legacy = Some((records, old));
            private_file_at(&path)?;
        }
        let conn = match open_db(&path, fsync) {
            Ok(conn) => conn,
            Err(OpenError::Other(e)) => return Err(sql(e)),
            Err(OpenError::Unreadable(why)) => {
                let aside = move_aside(&path, "unreadable")?;
                recovered = Some(format!(
                    "the spool {} could not be read ({why}); it was moved to {} and a new one \
                     started",
                    path.display(),
                    aside.display()
                ));
                private_file_at(&path)?;
                match open_db(&path, fsync) {
                    Ok(conn) => conn,
                    Err(OpenError::Other(e)) => return Err(sql(e)),
                    Err(OpenError::Unreadable(why)) => {
                        return Err(io::Error::other(format!("a new spool: {why}")));
                    }
                }
            }
        };
        let (len, bytes, last): (i64, i64, i64) = conn
            .query_row(
                "SELECT count(*), coalesce(sum(length(payload) + octet_length(topic)), 0), \
                 coalesce(max(seq), 0) FROM records",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(sql)?;
        let mut spool = Self {
            max_bytes,
            db: Some(Db { conn, _lock: lock }),
            memory: VecDeque::new(),
            next_seq: last.max(0) as u64 + 1,
            len: len.max(0) as u64,
            bytes: len.max(0) as u64 * OVERHEAD + bytes.max(0) as u64,
            dropped: 0,
            disk_failed_at: None,
            recovered,
            pending_removal: Vec::new(),
        };
        if let Some((records, old)) = legacy {
            let (frames, summary) = legacy_topics;
            let records = records
                .into_iter()
                .map(|(kind, payload)| Record {
                    topic: if kind == b's' { summary } else { frames }.to_string(),
                    payload,
                })
                .collect();
            let pushed = spool.push_all(records);
            if let Some(e) = pushed.disk_error {
                return Err(e);
            }
            // In the new file now.
            let _ = std::fs::remove_file(&old);
        }
        while spool.bytes > spool.max_bytes && spool.drop_oldest()? {}
        Ok(spool)
    }

    /// Why the file found at opening was moved aside, once.
    pub fn take_recovered(&mut self) -> Option<String> {
        self.recovered.take()
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of the records held (payload plus a fixed overhead each).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Records dropped to make room, since the spool was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Records held in memory because the disk refused them (0 for a memory spool).
    pub fn in_memory_fallback(&self) -> usize {
        if self.db.is_some() {
            self.memory.len()
        } else {
            0
        }
    }

    /// Counts one record of `size` gone for room.
    fn forget(&mut self, size: u64) {
        self.bytes -= size.min(self.bytes);
        self.len = self.len.saturating_sub(1);
        self.dropped += 1;
        if self.len == 0 {
            self.bytes = 0;
        }
    }

    fn drop_oldest(&mut self) -> io::Result<bool> {
        let from_disk = match &self.db {
            Some(db) => db
                .conn
                .query_row(
                    "DELETE FROM records WHERE seq = (SELECT min(seq) FROM records) \
                     RETURNING length(payload) + octet_length(topic)",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .optional()
                .map_err(sql)?,
            None => None,
        };
        let freed = match from_disk {
            Some(len) => Some(stored_len(len.max(0) as u64)),
            None => self.memory.pop_front().map(|(_, r)| r.stored_len()),
        };
        match freed {
            Some(n) => {
                self.forget(n);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Appends `record` (see [`Spool::push_all`]).
    pub fn push(&mut self, record: Record) -> Pushed {
        self.push_all(vec![record])
    }

    /// Appends `records`, oldest first, in one transaction, dropping the oldest held while
    /// they would not fit. A record larger than the whole spool is dropped itself. When the
    /// disk refuses them they are kept in memory (and written to disk later, in order).
    pub fn push_all(&mut self, records: Vec<Record>) -> Pushed {
        let mut pushed = Pushed::default();
        let mut accepted: VecDeque<(u64, Record)> = VecDeque::with_capacity(records.len());
        for record in records {
            let size = record.stored_len();
            if size > self.max_bytes {
                self.dropped += 1;
                continue;
            }
            // Room is made before the write. When the disk will not delete either, room
            // comes from the records held in memory, or this record is dropped: the bound
            // holds whatever the disk does.
            let mut fits = true;
            while self.bytes + size > self.max_bytes {
                match self.drop_oldest() {
                    Ok(true) => {}
                    // Nothing older is held: the oldest of this batch goes (a batch larger
                    // than the spool keeps its newest records, as single pushes would).
                    Ok(false) if !accepted.is_empty() => {
                        if let Some((_, old)) = accepted.pop_front() {
                            self.forget(old.stored_len());
                        }
                    }
                    Ok(false) => break,
                    Err(e) => {
                        pushed.disk_error.get_or_insert(e);
                        if let Some((_, old)) = self.memory.pop_front() {
                            self.forget(old.stored_len());
                        } else {
                            fits = false;
                            break;
                        }
                    }
                }
            }
            if !fits {
                self.dropped += 1;
                continue;
            }
            let seq = self.next_seq;
            self.next_seq += 1;
            self.len += 1;
            self.bytes += size;
            accepted.push_back((seq, record));
        }
        if accepted.is_empty() {
            return pushed;
        }
        if self.db.is_none() {
            self.memory.extend(accepted);
            return pushed;
        }
        // Records the disk refused earlier go first, so the order holds.
        let retry_due = self
            .disk_failed_at
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
        if self.memory.is_empty() || retry_due {
            self.memory.extend(accepted);
            match self.write_memory_to_disk() {
                Ok(()) => self.disk_failed_at = None,
                Err(e) => {
                    self.disk_failed_at = Some(Instant::now());
                    pushed.disk_error = Some(e);
                }
            }
        } else {
            self.memory.extend(accepted);
        }
        pushed.in_memory = self.memory.len() as u64;
        pushed
    }

    fn write_memory_to_disk(&mut self) -> io::Result<()> {
        let Some(db) = &mut self.db else {
            return Ok(());
        };
        if self.memory.is_empty() {
            return Ok(());
        }
        let tx = db.conn.transaction().map_err(sql)?;
        {
            let mut insert = tx
                // OR IGNORE: a batch whose commit reported a failure but did reach the disk
                // is written again without a conflict.
                .prepare_cached(
                    "INSERT OR IGNORE INTO records (seq, topic, payload) VALUES (?1, ?2, ?3)",
                )
                .map_err(sql)?;
            for (seq, record) in &self.memory {
                insert
                    .execute(params![*seq as i64, record.topic, record.payload])
                    .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)?;
        self.memory.clear();
        Ok(())
    }

    /// Up to `max` records after sequence number `cursor`, oldest first, left in the spool.
    pub fn peek_after(&mut self, cursor: u64, max: usize) -> io::Result<Vec<(u64, Record)>> {
        let mut out = Vec::new();
        if let Some(db) = &self.db {
            let mut select = db
                .conn
                .prepare_cached(
                    "SELECT seq, topic, payload FROM records WHERE seq > ?1 ORDER BY seq \
                     LIMIT ?2",
                )
                .map_err(sql)?;
            let rows = select
                .query_map(params![cursor as i64, max as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .map_err(sql)?;
            for row in rows {
                let (seq, topic, payload) = row.map_err(sql)?;
                if !self.pending_removal.contains(&(seq as u64)) {
                    out.push((seq as u64, Record { topic, payload }));
                }
            }
        }
        let start = self.memory.partition_point(|(seq, _)| *seq <= cursor);
        out.extend(
            self.memory
                .range(start..)
                .take(max.saturating_sub(out.len()))
                .cloned(),
        );
        Ok(out)
    }

    /// Removes the records `seqs` (delivered). Returns how many were still held (a record
    /// dropped for room meanwhile is not). Those the disk will not delete now are never
    /// offered again and are deleted at a later call.
    pub fn remove(&mut self, seqs: &[u64]) -> io::Result<usize> {
        let mut removed = 0;
        let mut freed = 0;
        let mut on_disk = std::mem::take(&mut self.pending_removal);
        for &seq in seqs {
            match self.memory.binary_search_by_key(&seq, |(s, _)| *s) {
                Ok(i) => {
                    if let Some((_, record)) = self.memory.remove(i) {
                        removed += 1;
                        freed += record.stored_len();
                    }
                }
                Err(_) if self.db.is_some() => on_disk.push(seq),
                Err(_) => {}
            }
        }
        let mut failure = None;
        if let Some(db) = &mut self.db
            && !on_disk.is_empty()
        {
            let deleted = (|| -> rusqlite::Result<(usize, u64)> {
                let tx = db.conn.transaction()?;
                let (mut n, mut bytes) = (0, 0);
                {
                    let mut delete = tx.prepare_cached(
                        "DELETE FROM records WHERE seq = ?1 \
                         RETURNING length(payload) + octet_length(topic)",
                    )?;
                    for &seq in &on_disk {
                        if let Some(len) = delete
                            .query_row(params![seq as i64], |r| r.get::<_, i64>(0))
                            .optional()?
                        {
                            n += 1;
                            bytes += stored_len(len.max(0) as u64);
                        }
                    }
                }
                tx.commit()?;
                Ok((n, bytes))
            })();
            match deleted {
                Ok((n, bytes)) => {
                    removed += n;
                    freed += bytes;
                }
                Err(e) => {
                    on_disk.sort_unstable();
                    on_disk.dedup();
                    self.pending_removal = on_disk;
                    failure = Some(sql(e));
                }
            }
        }
        self.len -= (removed as u64).min(self.len);
        self.bytes -= freed.min(self.bytes);
        if self.len == 0 {
            self.bytes = 0;
            if let Some(db) = &self.db {
                // Gives the emptied pages back; best effort. Each step frees one page.
                let vacuum = || -> rusqlite::Result<()> {
                    let mut stmt = db.conn.prepare("PRAGMA incremental_vacuum")?;
                    let mut rows = stmt.query([])?;
                    while rows.next()?.is_some() {}
                    Ok(())
                };
                let _ = vacuum();
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(removed),
        }
    }

    /// Writes the records held in memory (after the disk refused them) to disk now, as at a
    /// stop. Returns how many are still only in memory.
    pub fn flush_memory(&mut self) -> usize {
        if self.db.is_some() && !self.memory.is_empty() && self.write_memory_to_disk().is_ok() {
            self.disk_failed_at = None;
        }
        self.in_memory_fallback()
    }
}

/// The names (client ids) of the spools in `dir` that hold records: what earlier runs could
/// not deliver. A publisher started with that client id and `dir` sends them. Spools another
/// publisher holds open are left out.
pub fn spooled(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path
            .file_name()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_suffix(".spool"))
        else {
            continue;
        };
        if holds_records(dir, name) {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Whether the spool `name` in `dir` holds records, looked at without changing anything: a
/// shared lock for the moment (a spool a publisher holds is skipped), no journal mode set,
/// no check, no schema written. A spool of an earlier gst-als format holds records if it
/// has a live one.
fn holds_records(dir: &Path, name: &str) -> bool {
    let path = spool_path(dir, name);
    if dirs::private_file(&path).ok() != Some(true) {
        return false;
    }
    let Ok(_lock) = lock(dir, name, libc::LOCK_SH, Duration::ZERO) else {
        return false;
    };
    match legacy::read(&path) {
        Ok(Some(records)) => return !records.is_empty(),
        Ok(None) => {}
        Err(_) => return false,
    }
    let Ok(conn) = Connection::open(&path) else {
        return false;
    };
    conn.query_row("SELECT EXISTS (SELECT 1 FROM records)", [], |r| {
        r.get::<_, bool>(0)
    })
    .unwrap_or(false)
}

/// The spool file of gst-als before SQLite: records as `<kind: f, s or x (taken)><u32
/// little-endian length><payload>`, a torn last record ignored.
mod legacy {
    use std::io::{self, Read};
    use std::path::Path;

    const SQLITE_HEADER: &[u8] = b"SQLite format 3\0";

    /// A record of that format: its kind (`f` frames, `s` summary) and payload.
    pub type Legacy = (u8, Vec<u8>);

    /// The live records (kind, payload) of a spool of the earlier format, or `None` when the
    /// file is empty, an SQLite database or not of that format.
    pub fn read(path: &Path) -> io::Result<Option<Vec<Legacy>>> {
        let mut data = Vec::new();
        match std::fs::File::open(path) {
            Ok(mut file) => {
                file.read_to_end(&mut data)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
        if data.is_empty() || data.starts_with(SQLITE_HEADER) || !b"fsx".contains(&data[0]) {
            return Ok(None);
        }
        let mut records = Vec::new();
        let mut at = 0usize;
        while at + 5 <= data.len() {
            let kind = data[at];
            if !b"fsx".contains(&kind) {
                break;
            }
            let len = u32::from_le_bytes([data[at + 1], data[at + 2], data[at + 3], data[at + 4]])
                as usize;
            let Some(payload) = data.get(at + 5..at + 5 + len) else {
                break;
            };
            if kind != b'x' {
                records.push((kind, payload.to_vec()));
            }
            at += 5 + len;
        }
        Ok(Some(records))
    }
}

#[cfg(test)]
mod tests;
