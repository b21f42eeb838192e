// SPDX-License-Identifier: MPL-2.0

//! Publishing the JSON records to an MQTT broker, without GStreamer types: the bounded spool
//! ([`spool`]) and the publishing thread ([`client`]) that `alspublish` drives.

pub mod client;
pub mod spool;

pub use client::{Config, Notice, Publisher, Snapshot};
pub use spool::{Record, Spool, Topic};
