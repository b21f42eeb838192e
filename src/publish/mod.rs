// SPDX-License-Identifier: MPL-2.0

//! Publishing the JSON records to an MQTT broker, without GStreamer types: the bounded spool
//! ([`spool`]) in a private directory ([`dirs`]) and the publishing thread ([`client`]) that
//! `alspublish` drives.

pub mod client;
pub mod dirs;
pub mod spool;

pub use client::{Config, Notice, Publisher, Snapshot, Topic};
pub use dirs::default_spool_dir;
pub use spool::{Record, Spool};
