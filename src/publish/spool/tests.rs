// SPDX-License-Identifier: MPL-2.0

use std::os::unix::fs::PermissionsExt;

use super::*;

/// Where records of the earlier file format go.
const TOPICS: (&str, &str) = ("als/cam/frames", "als/cam/summary");

fn record(i: usize) -> Record {
    Record {
        topic: if i % 10 == 9 {
            "als/cam/summary".into()
        } else {
            "als/cam/frames".into()
        },
        payload: format!("{{\"frame\":{i}}}").into_bytes(),
    }
}

fn frame(r: &Record) -> usize {
    String::from_utf8_lossy(&r.payload)
        .trim_matches(|c: char| !c.is_ascii_digit())
        .parse::<usize>()
        .expect("a frame number")
}

/// Takes every record out, as a publisher whose every record is acknowledged would.
fn drain(spool: &mut Spool) -> Vec<Record> {
    let mut out = Vec::new();
    loop {
        let batch = spool.peek_after(0, 7).unwrap();
        if batch.is_empty() {
            return out;
        }
        let seqs: Vec<u64> = batch.iter().map(|(s, _)| *s).collect();
        assert_eq!(spool.remove(&seqs).unwrap(), seqs.len());
        out.extend(batch.into_iter().map(|(_, r)| r));
    }
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gst-als-spool-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn keeps_order_and_drops_the_oldest_when_full_in_memory_and_on_disk() {
    let d = dir("order");
    let size = record(0).stored_len();
    for mut spool in [
        Spool::in_memory(10 * size),
        Spool::on_disk(&d, "cam", 10 * size, false, TOPICS).unwrap(),
    ] {
        for i in 0..15 {
            assert!(spool.push(record(i)).disk_error.is_none());
        }
        assert!(spool.bytes() <= 10 * size && spool.len() >= 8);
        let dropped = spool.dropped();
        let kept = drain(&mut spool);
        assert_eq!(kept.len() as u64 + dropped, 15);
        assert_eq!(kept.last(), Some(&record(14)));
        assert!(
            kept.windows(2).all(|w| frame(&w[0]) + 1 == frame(&w[1])),
            "in order"
        );
        assert!(spool.is_empty() && spool.bytes() == 0);
    }
    let mut small = Spool::in_memory(4);
    small.push(record(1));
    assert_eq!(
        (small.len(), small.dropped()),
        (0, 1),
        "larger than the spool"
    );
}

#[test]
fn a_batch_larger_than_the_spool_keeps_its_newest_within_the_bound() {
    // A publisher that fell behind hands over its backlog in one batch: the bound holds for
    // it as for single pushes (it used to take the whole batch when nothing older was held).
    let d = dir("batch");
    let size = record(0).stored_len();
    for mut spool in [
        Spool::in_memory(10 * size),
        Spool::on_disk(&d, "cam", 10 * size, false, TOPICS).unwrap(),
    ] {
        spool.push(record(0));
        assert!(
            spool
                .push_all((1..40).map(record).collect())
                .disk_error
                .is_none()
        );
        assert!(spool.bytes() <= 10 * size, "{} bytes", spool.bytes());
        let dropped = spool.dropped();
        let kept = drain(&mut spool);
        assert_eq!(kept.len() as u64 + dropped, 40);
        assert!(kept.len() >= 8, "{} kept", kept.len());
        assert_eq!(kept.last(), Some(&record(39)));
        assert!(
            kept.windows(2).all(|w| frame(&w[0]) + 1 == frame(&w[1])),
            "in order"
        );
    }
}

#[test]
fn records_stay_until_removed_and_a_new_run_takes_up_the_rest() {
    let d = dir("resume");
    let mut spool = Spool::on_disk(&d, "cam", 1 << 20, false, TOPICS).unwrap();
    spool.push_all((0..6).map(record).collect());
    // Handed out but not acknowledged: still there, read again from an earlier cursor.
    let first = spool.peek_after(0, 2).unwrap();
    assert_eq!(first.len(), 2);
    let after = spool.peek_after(first[1].0, 10).unwrap();
    assert_eq!(after.len(), 4);
    assert_eq!(after[0].1, record(2));
    assert_eq!(spool.remove(&[first[0].0]).unwrap(), 1);
    assert_eq!(spool.remove(&[first[0].0]).unwrap(), 0, "removed once");
    assert_eq!(spool.len(), 5);
    drop(spool);
    let mut again = Spool::on_disk(&d, "cam", 1 << 20, false, TOPICS).unwrap();
    assert_eq!(again.len(), 5);
    assert_eq!(drain(&mut again), (1..6).map(record).collect::<Vec<_>>());
    // New records continue the order after those of the earlier run.
    again.push(record(6));
    drop(again);
    assert!(spooled(&d).unwrap() == vec!["cam".to_string()]);
    let mut third = Spool::on_disk(&d, "cam", 1 << 20, false, TOPICS).unwrap();
    assert_eq!(drain(&mut third), vec![record(6)]);
    drop(third);
    assert!(spooled(&d).unwrap().is_empty());
}

#[test]
fn files_stay_private_and_locked_through_heavy_use() {
    let d = dir("private");
    let mut spool = Spool::on_disk(&d, "cam", 1 << 24, false, TOPICS).unwrap();
    for round in 0..4 {
        spool.push_all((round * 5000..(round + 1) * 5000).map(record).collect());
        let batch = spool.peek_after(0, 4000).unwrap();
        let seqs: Vec<u64> = batch.iter().map(|(s, _)| *s).collect();
        spool.remove(&seqs).unwrap();
    }
    assert_eq!(spool.len(), 4000);
    assert_eq!(mode(&d), 0o700);
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let path = sibling(&spool_path(&d, "cam"), suffix);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    let err = Spool::on_disk(&d, "cam", 1 << 24, false, TOPICS)
        .err()
        .unwrap();
    assert!(err.to_string().contains("another publisher"), "{err}");
    assert!(
        spooled(&d).unwrap().is_empty(),
        "a spool in use is not offered"
    );
    drop(spool);
    assert_eq!(spooled(&d).unwrap(), vec!["cam".to_string()]);
}

#[test]
fn an_unreadable_spool_is_moved_aside_not_truncated() {
    let d = dir("unreadable");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    let garbage = b"garbage: neither SQLite nor the earlier format".repeat(100);
    let path = spool_path(&d, "cam");
    std::fs::write(&path, &garbage).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut spool = Spool::on_disk(&d, "cam", 1 << 20, false, TOPICS).unwrap();
    let why = spool.take_recovered().expect("said");
    assert!(why.contains("moved to"), "{why}");
    assert!(spool.is_empty());
    let aside: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains(".unreadable-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(std::fs::read(&aside[0]).unwrap(), garbage, "kept whole");
    spool.push(record(1));
    assert_eq!(drain(&mut spool), vec![record(1)]);
}

#[test]
fn links_and_open_files_are_refused() {
    let d = dir("links");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    let elsewhere = d.join("elsewhere");
    std::fs::write(&elsewhere, b"").unwrap();
    std::os::unix::fs::symlink(&elsewhere, spool_path(&d, "linked")).unwrap();
    let err = Spool::on_disk(&d, "linked", 1 << 20, false, TOPICS)
        .err()
        .unwrap();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    std::os::unix::fs::symlink(&elsewhere, sibling(&spool_path(&d, "wal"), "-wal")).unwrap();
    assert!(Spool::on_disk(&d, "wal", 1 << 20, false, TOPICS).is_err());
    let open = spool_path(&d, "open");
    std::fs::write(&open, b"").unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Spool::on_disk(&d, "open", 1 << 20, false, TOPICS)
        .err()
        .unwrap();
    assert!(err.to_string().contains("others can read"), "{err}");
    let shared = dir("shared-dir");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    assert!(Spool::on_disk(&shared, "cam", 1 << 20, false, TOPICS).is_err());
}

#[test]
fn a_disk_that_refuses_writes_keeps_records_in_memory_in_order() {
    let d = dir("refuses");
    let mut spool = Spool::on_disk(&d, "cam", 1 << 20, true, TOPICS).unwrap();
    spool.push_all((0..3).map(record).collect());
    let refuse = |spool: &Spool, on: bool| {
        spool
            .db
            .as_ref()
            .unwrap()
            .conn
            .pragma_update(None, "query_only", on)
            .unwrap()
    };
    refuse(&spool, true);
    let pushed = spool.push_all((3..6).map(record).collect());
    assert!(pushed.disk_error.is_some());
    assert_eq!(pushed.in_memory, 3);
    assert_eq!(spool.in_memory_fallback(), 3);
    assert_eq!(spool.len(), 6);
    refuse(&spool, false);
    // Before the retry is due, new records queue behind those in memory.
    spool.push(record(6));
    assert_eq!(spool.in_memory_fallback(), 4);
    spool.disk_failed_at = None;
    let pushed = spool.push(record(7));
    assert!(pushed.disk_error.is_none());
    assert_eq!(spool.in_memory_fallback(), 0);
    drop(spool);
    let mut again = Spool::on_disk(&d, "cam", 1 << 20, false, TOPICS).unwrap();
    assert_eq!(drain(&mut again), (0..8).map(record).collect::<Vec<_>>());
}

#[test]
fn a_spool_of_the_earlier_format_is_taken_up_not_lost() {
    let d = dir("legacy");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut old = Vec::new();
    for (kind, payload) in [
        (b'x', "{\"frame\":0}"),
        (b'f', "{\"frame\":1}"),
        (b's', "{\"summary\":9}"),
        (b'f', "{\"frame\":2}"),
    ] {
        old.push(kind);
        old.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        old.extend_from_slice(payload.as_bytes());
    }
    // A record torn by a crash at the end.
    old.extend_from_slice(&[b'f', 200, 0, 0, 0, b'{']);
    let path = spool_path(&d, "cam");
    std::fs::write(&path, &old).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(spooled(&d).unwrap(), vec!["cam".to_string()], "offered");
    let mut spool = Spool::on_disk(&d, "cam", 1 << 20, false, TOPICS).unwrap();
    assert!(
        spool
            .take_recovered()
            .unwrap()
            .contains("took up 3 records")
    );
    let got: Vec<(String, String)> = drain(&mut spool)
        .into_iter()
        .map(|r| (r.topic, String::from_utf8(r.payload).unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("als/cam/frames", "{\"frame\":1}"),
            ("als/cam/summary", "{\"summary\":9}"),
            ("als/cam/frames", "{\"frame\":2}"),
        ]
        .map(|(t, p)| (t.to_string(), p.to_string()))
    );
    let left: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("before-sqlite"))
        .collect();
    assert!(left.is_empty(), "the old file goes once taken up: {left:?}");
}

#[test]
fn byte_counts_hold_with_non_ascii_topics_and_a_refusing_disk() {
    let d = dir("accounting");
    let record = |i: usize| Record {
        topic: "als/caméra-ß/frames".into(),
        payload: format!("{{\"frame\":{i}}}").into_bytes(),
    };
    let size = record(0).stored_len();
    let mut spool = Spool::on_disk(&d, "cam", 50 * size, false, TOPICS).unwrap();
    for round in 0..20 {
        spool.push_all((round * 10..round * 10 + 10).map(record).collect());
        let batch = spool.peek_after(0, 10).unwrap();
        let seqs: Vec<u64> = batch.iter().map(|(s, _)| *s).collect();
        spool.remove(&seqs).unwrap();
    }
    assert_eq!((spool.len(), spool.bytes()), (0, 0), "nothing left over");
    drop(spool);
    let mut again = Spool::on_disk(&d, "cam", 50 * size, false, TOPICS).unwrap();
    again.push_all((0..5).map(record).collect());
    assert_eq!(again.bytes(), 5 * size, "as the database counts it");
    // A disk that refuses everything, deletes included: the bound still holds.
    again
        .db
        .as_ref()
        .unwrap()
        .conn
        .pragma_update(None, "query_only", true)
        .unwrap();
    for i in 5..200 {
        again.push(record(i));
        assert!(again.bytes() <= 50 * size, "over the bound at {i}");
    }
    assert!(again.in_memory_fallback() > 0);
    // Delivered records the disk will not delete are not offered again.
    let first = again.peek_after(0, 1).unwrap();
    assert!(again.remove(&[first[0].0]).is_err());
    let next = again.peek_after(0, 1).unwrap();
    assert_ne!(
        next[0].0, first[0].0,
        "a delivered record is not sent again"
    );
}
